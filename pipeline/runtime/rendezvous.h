// The key-value store every rank of one run shares: where process groups rendezvous, and where
// ranks leave small control-plane notes (the stage each rank is in, run ids).
//
//   file:PATH        a FileStore; PATH must be fresh per run (a stale file hangs rendezvous)
//   tcp:HOST:PORT    a TCPStore; world rank 0 serves it unless the launcher already does
//                    (torchrun's agent store, TORCHELASTIC_USE_AGENT_STORE=True). glmh joins an
//                    agent store that speaks its libtorch's TCPStore protocol; one that does not
//                    (torch >= 2.1's, met by libtorch 1.13) only carries the address of a store
//                    that rank 0 then serves itself (rendezvous.cpp, tcp_store_wire.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace glmh {

enum class StoreWire;  // tcp_store_wire.h
// The TCPStore protocol dialect that this libtorch's c10d client and server speak.
StoreWire c10d_store_wire();

struct StoreAddress {
  enum class Kind { File, Tcp } kind = Kind::File;
  std::string path;  // File
  std::string host;  // Tcp
  int port = 0;      // Tcp
  bool serve = true; // Tcp: whether world rank 0 starts the server (false: the launcher serves it)

  // Parses "file:PATH" or "tcp:HOST:PORT"; throws std::invalid_argument naming the text.
  static StoreAddress parse(const std::string& text);
  std::string to_string() const;
};

class Rendezvous {
 public:
  // `key_prefix` namespaces every key, so runs that share a store (torchrun's agent store across
  // restarts) never see each other's keys.
  static std::shared_ptr<Rendezvous> connect(const StoreAddress& address, int rank, int world_size,
                                             std::chrono::milliseconds timeout,
                                             const std::string& key_prefix = "");
  ~Rendezvous();

  void set(const std::string& key, const std::string& value);
  std::string get(const std::string& key);  // blocks up to the store timeout
  bool has(const std::string& key);
  int64_t add(const std::string& key, int64_t delta);

  std::chrono::milliseconds timeout() const { return timeout_; }

  struct Impl;  // holds the c10d store; see rendezvous_impl.h
  Impl& impl() { return *impl_; }

 private:
  Rendezvous(std::unique_ptr<Impl> impl, std::chrono::milliseconds timeout);
  std::unique_ptr<Impl> impl_;
  std::chrono::milliseconds timeout_;
};

}  // namespace glmh
