#include "pipeline/runtime/communicator.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "pipeline/runtime/device_sync.h"
#include "pipeline/runtime/error_text.h"
#include "pipeline/runtime/rendezvous_impl.h"
#define GLMH_COMPAT_WITH_C10D
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

const char* backend_name(CommBackend backend) {
  return backend == CommBackend::Gloo ? "gloo" : "nccl";
}

bool backend_available(CommBackend backend) {
#if defined(GLMH_WITH_GLOO)
  if (backend == CommBackend::Gloo) return true;
#endif
#if defined(GLMH_WITH_NCCL)
  if (backend == CommBackend::Nccl) return true;
#endif
  return false;
}

namespace {

using Clock = std::chrono::steady_clock;


c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return c10d::ReduceOp::SUM;
    case ReduceOp::Max: return c10d::ReduceOp::MAX;
    case ReduceOp::Min: return c10d::ReduceOp::MIN;
  }
  return c10d::ReduceOp::SUM;
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

}  // namespace

struct Communicator::Impl {
  std::string name;
  int rank = 0;
  std::vector<int> members;
  CommOptions options;
  c10::intrusive_ptr<compat::PgBase> pg;
#if defined(GLMH_WITH_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;  // same object as pg, for shutdown
#endif
  double seconds = 0;
  bool failed = false;  // a collective failed: peers may be gone
  std::vector<CollectiveTally> tallies;

  void tally(const char* verb, const at::Tensor& t) {
    for (auto& entry : tallies)
      if (entry.verb == verb && entry.dtype == t.scalar_type()) {
        entry.calls += 1;
        entry.elements += t.numel();
        return;
      }
    tallies.push_back({verb, t.scalar_type(), 1, t.numel()});
  }

  bool legacy_gloo() const {
    return options.backend == CommBackend::Gloo && !compat::kGlooHasFlatCollectives;
  }

  std::string where(const std::string& op) const {
    return "collective " + op + " on group '" + name + "' (group rank " + std::to_string(rank) +
           " of " + std::to_string(members.size()) + ", world rank " +
           std::to_string(members.at(rank)) + ", " + backend_name(options.backend) + ")";
  }

  void check_tensor(const std::string& op, const at::Tensor& t, const char* role) const {
    if (!t.defined()) throw CommError(where(op) + ": " + role + " tensor is undefined");
    if (!t.is_contiguous()) throw CommError(where(op) + ": " + role + " tensor is not contiguous");
    if (t.device() != options.device)
      throw CommError(where(op) + ": " + role + " tensor is on " + t.device().str() +
                      ", the group works on " + options.device.str());
  }

  // Starts one c10d call, translating any failure into a one-line CommError.
  template <class Launch>
  c10::intrusive_ptr<c10d::Work> start(const std::string& op, Launch&& launch) {
    // A profiler scope: on the CPU (Gloo) the wait is the collective's time (docs/performance.md#step-breakdown).
    RECORD_USER_SCOPE("glmh::collective " + op);
    const auto started = Clock::now();
    try {
      c10::intrusive_ptr<c10d::Work> work = launch();
      seconds += std::chrono::duration<double>(Clock::now() - started).count();
      return work;
    } catch (const CommError&) {
      throw;
    } catch (const std::exception& e) {
      failed = true;
      throw CommError(where(op) + " failed: " + one_line_error(e));
    }
  }

  // Waits for a started call (NCCL: orders the current stream after it).
  void finish(const std::string& op, c10d::Work& work) {
    RECORD_USER_SCOPE("glmh::collective " + op + " (wait)");
    const auto started = Clock::now();
    try {
      work.wait();  // never isSuccess(): deprecated (throws) for NCCL on 2.x
    } catch (const std::exception& e) {
      failed = true;
      throw CommError(where(op) + " failed: " + one_line_error(e));
    }
    seconds += std::chrono::duration<double>(Clock::now() - started).count();
  }

  template <class Launch>
  void run(const std::string& op, Launch&& launch) {
    finish(op, *start(op, std::forward<Launch>(launch)));
  }

  // Byte-moving collectives on 1.13's Gloo: bf16 is refused, but a kHalf view moves the same
  // bits (kShort is not supported there either); bool moves as bytes.
  at::Tensor bytes_view(const at::Tensor& t) const {
    if (t.scalar_type() == at::kBool) return t.view(at::kByte);
    if (legacy_gloo() && t.scalar_type() == at::kBFloat16) return t.view(at::kHalf);
    return t;
  }
};

struct PendingCollective::State {
  Communicator* group = nullptr;
  std::string op;
  std::vector<at::Tensor> tensors;  // alive until the collective is waited for
  c10::intrusive_ptr<c10d::Work> work;
};

PendingCollective::PendingCollective() = default;
PendingCollective::PendingCollective(PendingCollective&&) noexcept = default;
PendingCollective& PendingCollective::operator=(PendingCollective&& other) noexcept {
  if (this != &other) {
    if (state_) {
      try {
        wait();
      } catch (...) {
      }
    }
    state_ = std::move(other.state_);
  }
  return *this;
}

PendingCollective::~PendingCollective() {
  if (!state_) return;
  try {
    wait();
  } catch (...) {  // a destructor must not throw; the caller that cares calls wait()
  }
}

void PendingCollective::wait() {
  if (!state_) return;
  const std::unique_ptr<State> state = std::move(state_);
  state->group->impl_->finish(state->op, *state->work);
}

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Communicator::~Communicator() {
#if defined(GLMH_WITH_NCCL)
  if (impl_ && impl_->nccl) {
    if (impl_->failed) {
      // Shutting down a communicator whose peers are gone can block; the process is about to
      // exit with the first error anyway, so the communicator is left to the OS.
      impl_->nccl.release();
      impl_->pg.release();
      return;
    }
    try {
      compat::nccl_shutdown(*impl_->nccl);
    } catch (const std::exception&) {
      // The first error was already reported.
    }
  }
#endif
}

std::unique_ptr<Communicator> Communicator::create(Rendezvous& rendezvous, const std::string& name,
                                                   int world_rank, std::vector<int> members,
                                                   const CommOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->options = options;
  const auto it = std::find(members.begin(), members.end(), world_rank);
  if (it == members.end())
    throw CommError("group '" + name + "': world rank " + std::to_string(world_rank) +
                    " is not a member");
  impl->rank = static_cast<int>(it - members.begin());
  impl->members = std::move(members);
  const int size = static_cast<int>(impl->members.size());
  auto store = c10::make_intrusive<c10d::PrefixStore>(name, rendezvous.impl().store);

  try {
    if (options.backend == CommBackend::Gloo) {
#if defined(GLMH_WITH_GLOO)
      if (options.device.type() != c10::kCPU)
        throw CommError("group '" + name + "': gloo works on CPU tensors, not " + options.device.str());
      auto opts = c10d::ProcessGroupGloo::Options::create(options.timeout);
      // c10d's C++ constructor does not read GLOO_SOCKET_IFNAME; choose the device here.
      opts->devices.push_back(
          options.gloo_interface.empty()
              ? c10d::ProcessGroupGloo::createDeviceForHostname(options.gloo_hostname)
              : c10d::ProcessGroupGloo::createDeviceForInterface(options.gloo_interface));
      impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, impl->rank, size, opts);
#else
      throw CommError("this glmh was built without Gloo (no gloo headers at configure time)");
#endif
    } else {
#if defined(GLMH_WITH_NCCL)
      if (options.device.type() != c10::kCUDA)
        throw CommError("group '" + name + "': nccl works on CUDA tensors, not " + options.device.str());
      c10::cuda::set_device(options.device.index());
      auto opts = c10d::ProcessGroupNCCL::Options::create(/*is_high_priority_stream=*/false);
      // glmh's own bounded device waits (device_sync.h) must fire before c10d's watchdog: on its
      // timeout the watchdog aborts the communicator, and an abort while a collective's kernel
      // still spins (a peer never joined) can block the whole process behind the device: the
      // suspected cause of a stalled-rank run that outlived its 120 s limit on 2 GPUs (with both
      // timeouts at 10 s the watchdog, counting from the enqueue, fired first). glmh exits at
      // once on its own error.
      opts->timeout = 2 * options.timeout + std::chrono::minutes(1);
      impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, impl->rank, size, opts);
      compat::nccl_eager_init(*impl->nccl, options.device);
      impl->pg = impl->nccl;
#else
      throw CommError("this glmh was built without NCCL (needs a CUDA build of torch)");
#endif
    }
  } catch (const CommError&) {
    throw;
  } catch (const std::exception& e) {
    throw CommError("creating group '" + name + "' (" + backend_name(options.backend) +
                    ", world rank " + std::to_string(world_rank) + ") failed: " +
                    one_line_error(e));
  }
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl)));
}

const std::string& Communicator::name() const { return impl_->name; }
int Communicator::rank() const { return impl_->rank; }
int Communicator::size() const { return static_cast<int>(impl_->members.size()); }
bool Communicator::captures_in_cuda_graphs() const { return impl_->options.backend == CommBackend::Nccl; }
const std::vector<int>& Communicator::members() const { return impl_->members; }
const CommOptions& Communicator::options() const { return impl_->options; }
double Communicator::host_seconds_in_collectives() const { return impl_->seconds; }

const std::vector<CollectiveTally>& Communicator::collective_tallies() const { return impl_->tallies; }

void Communicator::broadcast(at::Tensor& tensor, int root) {
  const std::string op = "broadcast(root " + std::to_string(root) + ")";
  impl_->check_tensor(op, tensor, "input");
  impl_->tally("broadcast", tensor);
  std::vector<at::Tensor> tensors{impl_->bytes_view(tensor)};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  impl_->run(op, [&] { return impl_->pg->broadcast(tensors, opts); });
}

void Communicator::all_reduce(at::Tensor& tensor, ReduceOp op) {
  const std::string what = std::string("all_reduce(") + reduce_name(op) + ")";
  impl_->check_tensor(what, tensor, "input");
  impl_->tally("all_reduce", tensor);
  c10d::AllreduceOptions opts;
  opts.reduceOp = to_c10d(op);
  if (impl_->legacy_gloo() && tensor.scalar_type() == at::kBFloat16) {
    // 1.13's Gloo cannot reduce bf16: reduce in fp32 and round once (NCCL sums in bf16, so
    // results may differ in the last bit between backends).
    std::vector<at::Tensor> wide{tensor.to(at::kFloat)};
    impl_->run(what, [&] { return impl_->pg->allreduce(wide, opts); });
    tensor.copy_(wide[0]);
    return;
  }
  std::vector<at::Tensor> tensors{tensor};
  impl_->run(what, [&] { return impl_->pg->allreduce(tensors, opts); });
}

void Communicator::all_gather(at::Tensor& out, const at::Tensor& in) {
  const std::string op = "all_gather";
  impl_->check_tensor(op, in, "input");
  impl_->check_tensor(op, out, "output");
  impl_->tally("all_gather", in);
  if (out.numel() != in.numel() * size() || out.scalar_type() != in.scalar_type())
    throw CommError(impl_->where(op) + ": output must hold size x input elements of the same dtype");
  at::Tensor out_view = impl_->bytes_view(out);
  at::Tensor in_view = impl_->bytes_view(in);
  if (impl_->legacy_gloo()) {
    // No _allgather_base on 1.13's Gloo: gather into views of the flat output instead.
    std::vector<std::vector<at::Tensor>> outs{out_view.view({-1}).chunk(size())};
    std::vector<at::Tensor> ins{in_view.view({-1})};
    impl_->run(op, [&] { return impl_->pg->allgather(outs, ins); });
    return;
  }
  impl_->run(op, [&] { return impl_->pg->_allgather_base(out_view, in_view); });
}

void Communicator::reduce_scatter_sum(at::Tensor& out, const at::Tensor& in) {
  const std::string op = "reduce_scatter(sum)";
  impl_->check_tensor(op, in, "input");
  impl_->check_tensor(op, out, "output");
  impl_->tally("reduce_scatter", in);
  if (in.numel() != out.numel() * size() || out.scalar_type() != in.scalar_type())
    throw CommError(impl_->where(op) + ": input must hold size x output elements of the same dtype");
  if (impl_->legacy_gloo()) {
    // No reduce_scatter on 1.13's Gloo: all-reduce a copy and keep this rank's block
    // (twice the traffic; CPU tests only).
    at::Tensor full = in.clone();
    all_reduce(full, ReduceOp::Sum);
    out.copy_(full.view({size(), -1})[rank()].view(out.sizes()));
    return;
  }
  at::Tensor in_copy = in;
  impl_->run(op, [&] { return impl_->pg->_reduce_scatter_base(out, in_copy); });
}

void Communicator::all_to_all(at::Tensor& out, const at::Tensor& in,
                              std::vector<int64_t> out_splits, std::vector<int64_t> in_splits) {
  start_all_to_all(out, in, std::move(out_splits), std::move(in_splits)).wait();
}

PendingCollective Communicator::start_all_to_all(const at::Tensor& out, const at::Tensor& in,
                                                 std::vector<int64_t> out_splits, std::vector<int64_t> in_splits) {
  const std::string op = "all_to_all";
  impl_->check_tensor(op, in, "input");
  impl_->check_tensor(op, out, "output");
  impl_->tally("all_to_all", in);
  if (out_splits.empty() != in_splits.empty())
    throw CommError(impl_->where(op) + ": give both split lists or neither");
  if (!out_splits.empty() &&
      (static_cast<int>(out_splits.size()) != size() || static_cast<int>(in_splits.size()) != size()))
    throw CommError(impl_->where(op) + ": split lists must have one entry per rank");
  at::Tensor out_view = impl_->bytes_view(out);
  at::Tensor in_view = impl_->bytes_view(in);
  PendingCollective pending;
  pending.state_ = std::make_unique<PendingCollective::State>();
  auto& state = *pending.state_;
  state.group = this;
  state.op = op;
  state.tensors = {out_view, in_view};
  state.work = impl_->start(op, [&] { return impl_->pg->alltoall_base(out_view, in_view, out_splits, in_splits); });
  return pending;
}

void Communicator::send(const at::Tensor& tensor, int dst, int tag) {
  const std::string op = "send(to " + std::to_string(dst) + ", tag " + std::to_string(tag) + ")";
  impl_->check_tensor(op, tensor, "input");
  impl_->tally("send", tensor);
  std::vector<at::Tensor> tensors{impl_->bytes_view(tensor)};
  impl_->run(op, [&] { return impl_->pg->send(tensors, dst, tag); });
}

void Communicator::recv(at::Tensor& tensor, int src, int tag) {
  const std::string op = "recv(from " + std::to_string(src) + ", tag " + std::to_string(tag) + ")";
  impl_->check_tensor(op, tensor, "output");
  impl_->tally("recv", tensor);
  std::vector<at::Tensor> tensors{impl_->bytes_view(tensor)};
  impl_->run(op, [&] { return impl_->pg->recv(tensors, src, tag); });
}

void Communicator::barrier() {
  c10d::BarrierOptions opts;
  if (impl_->options.device.is_cuda()) opts.device_ids = {impl_->options.device.index()};
  impl_->run("barrier", [&] { return impl_->pg->barrier(opts); });
}

void Communicator::wait_for_device(const std::string& what) {
  try {
    synchronize_device(impl_->options.device, impl_->options.timeout, impl_->where(what));
  } catch (const CommError&) {
    impl_->failed = true;
    throw;
  }
}

std::string Communicator::broadcast_bytes(const std::string& bytes, int root) {
  const auto device = impl_->options.device;
  const auto on_device = at::TensorOptions().device(device);
  at::Tensor length = at::empty({1}, on_device.dtype(at::kLong));
  if (rank() == root) length.fill_(static_cast<int64_t>(bytes.size()));
  broadcast(length, root);
  wait_for_device("broadcast_bytes(root " + std::to_string(root) + ")");
  const int64_t n = length.cpu().item<int64_t>();
  at::Tensor payload;
  if (rank() == root) {
    payload = at::empty({n}, at::TensorOptions().dtype(at::kByte));
    std::memcpy(payload.data_ptr(), bytes.data(), bytes.size());
    payload = payload.to(device);
  } else {
    payload = at::empty({n}, on_device.dtype(at::kByte));
  }
  if (n > 0) broadcast(payload, root);
  if (rank() == root) return bytes;
  wait_for_device("broadcast_bytes(root " + std::to_string(root) + ")");
  at::Tensor host = payload.cpu();
  return std::string(static_cast<const char*>(host.data_ptr()), static_cast<size_t>(n));
}

}  // namespace glmh
