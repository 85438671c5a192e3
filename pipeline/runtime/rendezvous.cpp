#include "pipeline/runtime/rendezvous.h"

#include <unistd.h>

#include <stdexcept>

#include "pipeline/runtime/rank_log.h"
#include "pipeline/runtime/rendezvous_impl.h"
#include "pipeline/runtime/tcp_store_wire.h"
#define GLMH_COMPAT_WITH_C10D
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

namespace {

c10::intrusive_ptr<c10d::TCPStore> tcp_store(const std::string& host, int port, bool serve,
                                             int world_size, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = serve;
  opts.numWorkers = static_cast<std::size_t>(world_size);
  opts.waitWorkers = false;  // the first collective's rendezvous waits for everyone anyway
  opts.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// How the other ranks reach rank 0: through the interface that reaches the agent store, unless
// that is loopback while MASTER_ADDR is not (a host name that resolves to 127.0.1.1 on its own
// host, as Debian's /etc/hosts has it); then by host name, as torch itself publishes its address.
std::string address_for_peers(const StoreWireClient& agent, const std::string& agent_host) {
  if (!agent.local_address_is_loopback() || is_loopback(agent_host)) return agent.local_address();
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

// torchrun's agent already serves a store at `agent` (TORCHELASTIC_USE_AGENT_STORE=True). When it
// speaks this libtorch's TCPStore dialect, every rank joins it. When not (libtorch 1.13 under a
// torchrun of torch >= 2.1), c10d's client cannot use it at all: rank 0 then serves glmh's own
// store and leaves its address in the agent store, where the other ranks read it with glmh's own
// client (tcp_store_wire.h), under the run's key prefix (run id and restart count).
c10::intrusive_ptr<c10d::Store> join_launcher_store(const StoreAddress& agent, int rank, int world_size,
                                                    std::chrono::milliseconds timeout,
                                                    const std::string& key_prefix) {
  const StoreWire spoken = probe_store_wire(agent.host, agent.port, timeout);
  const StoreWire own = c10d_store_wire();
  if (spoken == own) return tcp_store(agent.host, agent.port, /*serve=*/false, world_size, timeout);

  StoreWireClient agent_client(agent.host, agent.port, spoken, timeout);
  const std::string key = key_prefix + "/store";
  if (rank == 0) {
    const std::string host = address_for_peers(agent_client, agent.host);
    auto store = tcp_store(host, /*port=*/0, /*serve=*/true, world_size, timeout);
    const std::string address = host + ":" + std::to_string(store->getPort());
    agent_client.set(key, address);
    RankLog(rank).info("torchrun's agent store (", agent.to_string(), ") speaks the TCPStore protocol of ",
                       store_wire_name(spoken), ", this libtorch ", TORCH_VERSION, " that of ",
                       store_wire_name(own), ": rank 0 serves glmh's store at tcp:", address);
    return store;
  }
  const std::string published = agent_client.get(key, timeout);
  StoreAddress own_store;
  try {
    own_store = StoreAddress::parse("tcp:" + published);
  } catch (const std::invalid_argument&) {
    throw StoreWireError("torchrun's agent store (" + agent.to_string() + ") holds '" + published +
                         "' under '" + key + "', not rank 0's store address");
  }
  return tcp_store(own_store.host, own_store.port, /*serve=*/false, world_size, timeout);
}

}  // namespace

StoreWire c10d_store_wire() {
  return compat::kTcpStoreClientValidates ? StoreWire::Validated : StoreWire::Unvalidated;
}

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
  } else if (address.serve) {
    impl->store = tcp_store(address.host, address.port, rank == 0, world_size, timeout);
  } else {
    impl->store = join_launcher_store(address, rank, world_size, timeout, key_prefix);
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
