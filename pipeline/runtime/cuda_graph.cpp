#include "pipeline/runtime/cuda_graph.h"

#include <stdexcept>

#if defined(GLMH_WITH_NCCL)  // a CUDA build of torch
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace glmh {

#if defined(GLMH_WITH_NCCL)
struct CudaGraph::Impl {
  explicit Impl(c10::DeviceIndex index)  // -1: the current device
      : device(index < 0 ? c10::cuda::current_device() : index),
        side(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device)) {}

  // Runs `work` on the side stream, after the caller's queued work and before its later work.
  template <typename Work>
  void on_side_stream(Work&& work) {
    c10::cuda::CUDAGuard device_guard(device);
    const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device);
    at::cuda::CUDAEvent ready;
    ready.record(caller);
    ready.block(side);
    {
      c10::cuda::CUDAStreamGuard stream_guard(side);
      work();
    }
    at::cuda::CUDAEvent done;
    done.record(side);
    done.block(caller);
  }

  c10::DeviceIndex device;
  // Capture needs a stream other than the legacy default one.
  c10::cuda::CUDAStream side;
  at::cuda::CUDAGraph graph;
};
#else
struct CudaGraph::Impl {};
#endif

CudaGraph::CudaGraph() = default;

CudaGraph::~CudaGraph() {
#if defined(GLMH_WITH_NCCL)
  if (impl_) impl_->side.synchronize();
#endif
}

bool CudaGraph::available(const c10::Device& device) {
#if defined(GLMH_WITH_NCCL)
  return device.is_cuda();
#else
  (void)device;
  return false;
#endif
}

void CudaGraph::capture(const c10::Device& device, const std::function<void()>& enqueue) {
  if (!available(device)) throw std::logic_error("CudaGraph::capture: no CUDA device in this build");
  if (impl_) throw std::logic_error("CudaGraph::capture: already captured");
#if defined(GLMH_WITH_NCCL)
  auto impl = std::make_unique<Impl>(device.index());
  Impl& graph = *impl;
  graph.on_side_stream([&] {
    // Thread-local capture: other threads (c10d's NCCL watchdog) keep querying their events.
    graph.graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    try {
      enqueue();
    } catch (...) {
      try {
        graph.graph.capture_end();  // leaves the stream usable; the graph is dropped
      } catch (...) {
      }
      throw;
    }
    graph.graph.capture_end();
  });
  impl_ = std::move(impl);
#else
  (void)enqueue;
#endif
}

void CudaGraph::replay() {
  if (!impl_) throw std::logic_error("CudaGraph::replay: nothing captured");
#if defined(GLMH_WITH_NCCL)
  impl_->on_side_stream([this] { impl_->graph.replay(); });
#endif
}

}  // namespace glmh
