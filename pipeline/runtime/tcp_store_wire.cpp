#include "pipeline/runtime/tcp_store_wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace glmh {

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kValidateMagic = 0x3C85F7CE;

// Command codes of the two dialects (see the header).
struct Commands {
  std::uint8_t set, get, wait;
};
constexpr Commands kUnvalidatedCommands{0, 2, 5};
constexpr Commands kValidatedCommands{1, 3, 6};
constexpr std::uint8_t kValidate = 0;
constexpr std::uint8_t kUnvalidatedGetNumKeys = 6;  // the validated dialect's WAIT
constexpr std::uint8_t kStopWaiting = 0;

const Commands& commands(StoreWire wire) {
  return wire == StoreWire::Validated ? kValidatedCommands : kUnvalidatedCommands;
}

std::string address_text(const std::string& host, int port) {
  return "tcp:" + host + ":" + std::to_string(port);
}

long remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<long>(left) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(remaining_ms(deadline)));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.release()) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~Socket() { reset(); }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A non-blocking TCP connection to host:port, retried while the server is not up yet (the agent
// store normally is; glmh's own store on rank 0 may start a moment after its peers).
Socket connect_until(const std::string& host, int port, Clock::time_point deadline) {
  const std::string where = address_text(host, port);
  std::string last_error = "timed out";
  for (;;) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0) throw StoreWireError("store " + where + ": cannot resolve '" + host + "': " + ::gai_strerror(rc));
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
      if (s.get() < 0) continue;
      int error = 0;
      if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0) {
        error = errno;
        if (error == EINPROGRESS) {
          if (!wait_for(s.get(), POLLOUT, deadline)) {
            error = ETIMEDOUT;
          } else {
            socklen_t len = sizeof error;
            ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &len);
          }
        }
      }
      if (error == 0) {
        const int one = 1;
        ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::freeaddrinfo(found);
        return s;
      }
      last_error = std::strerror(error);
    }
    ::freeaddrinfo(found);
    if (remaining_ms(deadline) == 0)
      throw StoreWireError("store " + where + ": cannot connect: " + last_error);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100L, remaining_ms(deadline))));
  }
}

void send_all(int fd, const Bytes& bytes, Clock::time_point deadline, const std::string& where) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) throw StoreWireError("store " + where + ": sending timed out");
    } else {
      throw StoreWireError("store " + where + ": sending failed: " + std::strerror(errno));
    }
  }
}

// Reads whatever has arrived (at most `max` bytes) once fd is readable. Returns the bytes; an
// empty result means the peer closed the connection. Throws on timeout and socket errors.
Bytes receive_some(int fd, std::size_t max, Clock::time_point deadline, const std::string& where) {
  for (;;) {
    if (!wait_for(fd, POLLIN, deadline)) throw StoreWireError("store " + where + ": no answer (timed out)");
    Bytes buf(max);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
    if (errno == ECONNRESET) return {};
    throw StoreWireError("store " + where + ": receiving failed: " + std::strerror(errno));
  }
}

Bytes receive_exactly(int fd, std::size_t count, Clock::time_point deadline, const std::string& where) {
  Bytes out;
  while (out.size() < count) {
    const Bytes part = receive_some(fd, count - out.size(), deadline, where);
    if (part.empty()) throw StoreWireError("store " + where + ": the server closed the connection");
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

template <class T>
void append_value(Bytes& out, T value) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof value);
}

void append_string(Bytes& out, const std::string& s) {
  append_value<std::uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// c10d's TCPStore puts "/" in front of every key; so does glmh, so that keys read the same from
// torch's Python client.
std::string wire_key(const std::string& key) { return "/" + key; }

}  // namespace

const char* store_wire_name(StoreWire wire) {
  return wire == StoreWire::Validated ? "torch >= 2.1" : "torch <= 2.0";
}

StoreWire probe_store_wire(const std::string& host, int port, std::chrono::milliseconds timeout) {
  const std::string where = address_text(host, port);
  const auto deadline = Clock::now() + timeout;
  Socket s = connect_until(host, port, deadline);

  // 1. One byte: GETNUMKEYS to an old server, which answers with an 8-byte count at once. A new
  //    server without libuv closes a connection whose first request is not VALIDATE; one with
  //    libuv (torch >= 2.4's default) says nothing and keeps the bytes.
  send_all(s.get(), Bytes{kUnvalidatedGetNumKeys}, deadline, where);
  const auto first_wait = std::min(Clock::now() + std::chrono::milliseconds(200), deadline);
  if (wait_for(s.get(), POLLIN, first_wait)) {
    const Bytes answer = receive_some(s.get(), 8, deadline, where);
    return answer.empty() ? StoreWire::Validated : StoreWire::Unvalidated;
  }

  // 2. Eight zero bytes. The libuv server parses everything it kept again, now as a regular
  //    request: WAIT for zero keys, answered with one STOP_WAITING byte. An old server that was
  //    merely slow answers the count (8 bytes) first.
  //    The libuv server only re-parses when new bytes arrive: one that read the first byte
  //    together with these (it accepted late, e.g. under load) has nothing left to read and stays
  //    silent. So while no answer comes, another whole WAIT for zero keys follows, each after a
  //    longer wait; every one of them is answered with one byte.
  Bytes request(8, 0);
  int requests = 1;
  auto patience = std::chrono::milliseconds(200);
  for (;;) {
    send_all(s.get(), request, deadline, where);
    if (wait_for(s.get(), POLLIN, std::min(Clock::now() + patience, deadline))) break;
    if (remaining_ms(deadline) == 0) throw StoreWireError("store " + where + ": no answer (timed out)");
    request.assign(9, 0);
    request[0] = kValidatedCommands.wait;
    ++requests;
    patience *= 2;
  }
  Bytes answer;
  for (;;) {
    const Bytes part = receive_some(s.get(), 64, deadline, where);
    if (part.empty()) break;
    answer.insert(answer.end(), part.begin(), part.end());
    // An 8-byte count could in principle arrive split; give the rest a moment.
    if (answer.size() >= 8) break;
    if (!wait_for(s.get(), POLLIN, std::min(Clock::now() + std::chrono::milliseconds(100), deadline))) break;
  }
  if (answer.empty()) throw StoreWireError("store " + where + " closed the connection while its protocol was probed");
  if (answer.size() >= 8) return StoreWire::Unvalidated;
  for (const std::uint8_t byte : answer)
    if (byte != kStopWaiting || static_cast<int>(answer.size()) > requests)
      throw StoreWireError("store " + where + " answered the protocol probe with an unexpected byte " +
                           std::to_string(byte));
  return StoreWire::Validated;
}

StoreWireClient::StoreWireClient(const std::string& host, int port, StoreWire wire,
                                 std::chrono::milliseconds timeout)
    : where_(address_text(host, port)), wire_(wire), timeout_(timeout) {
  const auto deadline = Clock::now() + timeout;
  Socket s = connect_until(host, port, deadline);
  if (wire == StoreWire::Validated) {
    Bytes hello{kValidate};
    append_value<std::uint32_t>(hello, kValidateMagic);
    send_all(s.get(), hello, deadline, where_);
  }
  fd_ = s.release();
}

StoreWireClient::~StoreWireClient() {
  if (fd_ >= 0) ::close(fd_);
}

void StoreWireClient::set(const std::string& key, const std::string& value) {
  Bytes request{commands(wire_).set};
  append_string(request, wire_key(key));
  append_string(request, value);
  send_all(fd_, request, Clock::now() + timeout_, where_);  // SET has no answer
}

std::string StoreWireClient::get(const std::string& key, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // WAIT first: a GET of a missing key is an error on the server (old servers close the
  // connection). On timeout the connection is dropped, which also ends the wait on the server.
  Bytes wait{commands(wire_).wait};
  append_value<std::uint64_t>(wait, 1);
  append_string(wait, wire_key(key));
  send_all(fd_, wait, deadline, where_);
  Bytes reply;
  try {
    reply = receive_exactly(fd_, 1, deadline, where_);
  } catch (const StoreWireError&) {
    ::close(fd_);
    fd_ = -1;
    if (remaining_ms(deadline) == 0)
      throw StoreWireError("store " + where_ + ": key '" + key + "' did not appear within " +
                           std::to_string(timeout.count() / 1000) + " s");
    throw;
  }
  if (reply[0] != kStopWaiting)
    throw StoreWireError("store " + where_ + ": unexpected answer " + std::to_string(reply[0]) + " to a wait");

  Bytes get{commands(wire_).get};
  append_string(get, wire_key(key));
  send_all(fd_, get, deadline, where_);
  const Bytes size_bytes = receive_exactly(fd_, sizeof(std::uint64_t), deadline, where_);
  std::uint64_t size = 0;
  std::memcpy(&size, size_bytes.data(), sizeof size);
  if (size > (1u << 20)) throw StoreWireError("store " + where_ + ": key '" + key + "' holds an implausible " + std::to_string(size) + " bytes");
  const Bytes value = receive_exactly(fd_, static_cast<std::size_t>(size), deadline, where_);
  return std::string(value.begin(), value.end());
}

std::string StoreWireClient::local_address() const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
    return text;
  }
  const auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
    ::inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof text);
    return text;
  }
  ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
  return text;
}

bool StoreWireClient::local_address_is_loopback() const {
  const std::string a = local_address();
  return a.rfind("127.", 0) == 0 || a == "::1";
}

}  // namespace glmh
