#include "pipeline/runtime/rendezvous.h"

#include <stdexcept>

#include "pipeline/runtime/rendezvous_impl.h"
#define GLMH_COMPAT_WITH_C10D
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

StoreAddress StoreAddress::parse(const std::string& text) {
  StoreAddress a;
  if (text.rfind("file:", 0) == 0 && text.size() > 5) {
    a.kind = Kind::File;
    a.path = text.substr(5);
    return a;
  }
  if (text.rfind("tcp:", 0) == 0) {
    const auto colon = text.rfind(':');
    if (colon > 4) {
      a.kind = Kind::Tcp;
      a.host = text.substr(4, colon - 4);
      try {
        size_t used = 0;
        a.port = std::stoi(text.substr(colon + 1), &used);
        if (used == text.size() - colon - 1 && a.port > 0 && a.port < 65536 && !a.host.empty())
          return a;
      } catch (const std::exception&) {
      }
    }
  }
  throw std::invalid_argument("store address '" + text +
                              "': expected file:PATH or tcp:HOST:PORT");
}

std::string StoreAddress::to_string() const {
  return kind == Kind::File ? "file:" + path : "tcp:" + host + ":" + std::to_string(port);
}

Rendezvous::Rendezvous(std::unique_ptr<Impl> impl, std::chrono::milliseconds timeout)
    : impl_(std::move(impl)), timeout_(timeout) {}
Rendezvous::~Rendezvous() = default;

std::shared_ptr<Rendezvous> Rendezvous::connect(const StoreAddress& address, int rank,
                                                int world_size,
                                                std::chrono::milliseconds timeout,
                                                const std::string& key_prefix) {
  auto impl = std::make_unique<Impl>();
  if (address.kind == StoreAddress::Kind::File) {
    impl->store = c10::make_intrusive<c10d::FileStore>(address.path, world_size);
  } else {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(address.port);
    opts.isServer = address.serve && rank == 0;
    opts.numWorkers = static_cast<std::size_t>(world_size);
    opts.waitWorkers = false;  // the first collective's rendezvous waits for everyone anyway
    opts.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(address.host, opts);
  }
  impl->store->setTimeout(timeout);
  if (!key_prefix.empty())
    impl->store = c10::make_intrusive<c10d::PrefixStore>(key_prefix, impl->store);
  return std::shared_ptr<Rendezvous>(new Rendezvous(std::move(impl), timeout));
}

void Rendezvous::set(const std::string& key, const std::string& value) {
  impl_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
}

std::string Rendezvous::get(const std::string& key) {
  const auto bytes = impl_->store->get(key);
  return std::string(bytes.begin(), bytes.end());
}

bool Rendezvous::has(const std::string& key) { return impl_->store->check({key}); }

int64_t Rendezvous::add(const std::string& key, int64_t delta) {
  return impl_->store->add(key, delta);
}

}  // namespace glmh
