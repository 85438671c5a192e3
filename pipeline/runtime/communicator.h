// One process group (world, or one TP/SP/Ulysses/Ring/CFG group) and the collectives glmh uses.
//
// Wraps c10d's ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA) behind verbs that behave the same
// on libtorch 1.13 and 2.x (the fallbacks for 1.13's Gloo live in communicator.cpp), and turns every
// backend failure into a CommError that names the collective and the group, on one line.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace glmh {

class Rendezvous;

enum class CommBackend { Gloo, Nccl };
const char* backend_name(CommBackend backend);
bool backend_available(CommBackend backend);

enum class ReduceOp { Sum, Max, Min };

class CommError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CommOptions {
  CommBackend backend = CommBackend::Gloo;
  // How long a collective may wait for its peers before it fails.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  c10::Device device{c10::kCPU};
  // Gloo transport: an interface name (GLOO_SOCKET_IFNAME) or a hostname to bind to.
  std::string gloo_interface;
  std::string gloo_hostname = "127.0.0.1";
};

// What a group's collectives carried, per verb and element type (the dtype of the caller's
// tensor, before any backend workaround): the evidence for the collective-precision check.
struct CollectiveTally {
  std::string verb;  // "all_reduce", "all_to_all", ...
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  int64_t calls = 0;
  int64_t elements = 0;
};

// A collective started but not yet waited for: NCCL runs it on its own stream (Gloo on its
// threads) while the caller enqueues other work. wait() orders the caller's stream after it (NCCL:
// no host wait; Gloo: the host waits) with the blocking call's error handling. Its tensors stay
// alive until then; destroying it un-waited waits (errors then go unreported: call wait()).
class PendingCollective {
 public:
  PendingCollective();
  PendingCollective(PendingCollective&&) noexcept;
  PendingCollective& operator=(PendingCollective&&) noexcept;
  ~PendingCollective();
  void wait();

 private:
  friend class Communicator;
  struct State;
  std::unique_ptr<State> state_;
};

class Communicator {
 public:
  // Collective: every member (world rank in `members`, in group-rank order) must call it with the
  // same name. `name` is also the store prefix, so it must be unique per group within a run.
  static std::unique_ptr<Communicator> create(Rendezvous& rendezvous, const std::string& name,
                                              int world_rank, std::vector<int> members,
                                              const CommOptions& options);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  const std::string& name() const;
  int rank() const;  // rank within this group
  int size() const;
  const std::vector<int>& members() const;  // world ranks, in group-rank order
  const CommOptions& options() const;
  // Whether a CUDA graph can capture this group's collectives: NCCL's are kernels on the device,
  // recorded into the capturing stream (docs/performance.md#cuda-graphs); Gloo's run on the host.
  // A captured collective is tallied once, at capture, however often the graph is replayed.
  bool captures_in_cuda_graphs() const;

  // All tensors must be contiguous and on options().device. Every call blocks the host until the
  // collective is enqueued (NCCL) or done (Gloo); none synchronises the device.
  void broadcast(at::Tensor& tensor, int root);
  void all_reduce(at::Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  // out = concatenation along dim 0 of every rank's `in`, in group-rank order.
  void all_gather(at::Tensor& out, const at::Tensor& in);
  // in = [size * n, ...]; out = [n, ...] = sum over ranks of this rank's block.
  void reduce_scatter_sum(at::Tensor& out, const at::Tensor& in);
  // Dim-0 blocks of `in` go to ranks 0..size-1; equal blocks when the split lists are empty.
  void all_to_all(at::Tensor& out, const at::Tensor& in, std::vector<int64_t> out_splits = {},
                  std::vector<int64_t> in_splits = {});
  // The same, started: the caller overlaps it with other work and waits before using `out`.
  [[nodiscard]] PendingCollective start_all_to_all(const at::Tensor& out, const at::Tensor& in,
                                                   std::vector<int64_t> out_splits = {},
                                                   std::vector<int64_t> in_splits = {});
  void send(const at::Tensor& tensor, int dst, int tag);
  void recv(at::Tensor& tensor, int src, int tag);
  void barrier();

  // Host bytes from `root` to every rank (size first, then payload), through the device on NCCL.
  std::string broadcast_bytes(const std::string& bytes, int root);

  // Waits, bounded by the timeout, until this rank's queued device work (the collectives
  // enqueued so far included) has finished: call it before reading a result on the host. No-op
  // on CPU, where every collective above already returns complete.
  void wait_for_device(const std::string& what);

  // Host time spent blocked in this group's collectives since creation.
  double host_seconds_in_collectives() const;
  // Every collective since creation, by verb and dtype (host bookkeeping only).
  const std::vector<CollectiveTally>& collective_tallies() const;

 private:
  friend class PendingCollective;
  struct Impl;
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace glmh
