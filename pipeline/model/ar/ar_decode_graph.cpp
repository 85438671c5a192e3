#include "pipeline/model/ar/ar_decode_graph.h"

#if defined(GLMH_WITH_NCCL)  // a CUDA build of torch
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace glmh {

bool replay_as_cuda_graph(const c10::Device& device, int64_t count, const std::function<void()>& step,
                          const std::function<void(int64_t)>& after_each) {
#if defined(GLMH_WITH_NCCL)
  if (!device.is_cuda() || count < 2) return false;
  c10::cuda::CUDAGuard device_guard(device.index());
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device.index());
  // Capture needs a stream other than the legacy default one; it starts after the caller's work.
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  at::cuda::CUDAEvent ready;
  ready.record(caller);
  ready.block(side);
  {
    c10::cuda::CUDAStreamGuard stream_guard(side);
    step();
    after_each(0);
    at::cuda::CUDAGraph graph;
    // Thread-local capture: other threads (c10d's NCCL watchdog) keep querying their events.
    graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    step();
    graph.capture_end();
    for (int64_t i = 1; i < count; ++i) {
      graph.replay();
      after_each(i);
    }
    at::cuda::CUDAEvent done;
    done.record(side);
    done.block(caller);
    caller.synchronize();  // the graph (and its memory pool) must outlive its last replay
  }
  return true;
#else
  (void)device, (void)count, (void)step, (void)after_each;
  return false;
#endif
}

}  // namespace glmh
