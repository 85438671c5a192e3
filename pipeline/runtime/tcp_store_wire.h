// A small client of torch's TCPStore wire protocol on plain sockets, for the one store glmh may
// meet that another torch version serves: torchrun's agent store.
//
// The protocol has two incompatible dialects, and c10d's own client speaks only the one of the
// libtorch glmh was built with:
//  - Unvalidated (torch <= 2.0, so Debian's libtorch 1.13): a request starts with its command
//    byte (SET = 0, GET = 2, WAIT = 5, GETNUMKEYS = 6).
//  - Validated (torch >= 2.1): a connection must open with VALIDATE (command 0) and a magic
//    number, and every command code moved up by one (SET = 1, GET = 3, WAIT = 6). A server drops
//    or ignores a connection whose first request is anything else.
// Strings are a 64-bit length and the bytes; integers are in host byte order, as torch sends them.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace glmh {

enum class StoreWire { Unvalidated, Validated };
const char* store_wire_name(StoreWire wire);  // names the torch versions that speak it

class StoreWireError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Which dialect the TCPStore at host:port speaks. The probe only ever sends requests that are
// harmless in both (GETNUMKEYS in the old one, a wait for no keys in the new one) and never the
// new VALIDATE request, which an old server would read as the start of a gigabyte-long key.
// Throws StoreWireError (one line, naming the address) when nothing answers within `timeout`.
StoreWire probe_store_wire(const std::string& host, int port, std::chrono::milliseconds timeout);

// One connection to a TCPStore. Every call is bounded by its timeout; nothing blocks for longer.
class StoreWireClient {
 public:
  StoreWireClient(const std::string& host, int port, StoreWire wire, std::chrono::milliseconds timeout);
  ~StoreWireClient();
  StoreWireClient(const StoreWireClient&) = delete;
  StoreWireClient& operator=(const StoreWireClient&) = delete;

  void set(const std::string& key, const std::string& value);
  // Waits until `key` exists, then returns its value; throws StoreWireError after `timeout`.
  std::string get(const std::string& key, std::chrono::milliseconds timeout);
  // The IP address of this end of the connection: the interface that reaches the store.
  std::string local_address() const;
  bool local_address_is_loopback() const;

 private:
  std::string where_;  // "tcp:HOST:PORT", for messages
  StoreWire wire_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
};

}  // namespace glmh
