#include "pipeline/runtime/device_sync.h"

#include <thread>

#include "pipeline/runtime/communicator.h"

#if defined(GLMH_WITH_NCCL)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace glmh {

void synchronize_device(const c10::Device& device, std::chrono::milliseconds timeout,
                        const std::string& what) {
  if (!device.is_cuda()) return;
#if defined(GLMH_WITH_NCCL)
  using Clock = std::chrono::steady_clock;
  c10::cuda::CUDAGuard guard(device.index());
  at::cuda::CUDAEvent done;
  done.record(c10::cuda::getCurrentCUDAStream(device.index()));
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  // Spin briefly (stage-end latency matters for timing), then poll every 100 us.
  while (!done.query()) {
    const auto now = Clock::now();
    if (now > deadline)
      throw CommError(what + ": device work did not finish within " +
                      std::to_string(timeout.count() / 1000) +
                      " s (a peer may never have joined a collective)");
    if (now - start > std::chrono::milliseconds(1)) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
#else
  (void)timeout;
  throw CommError(what + ": this glmh was built without CUDA");
#endif
}

}  // namespace glmh
