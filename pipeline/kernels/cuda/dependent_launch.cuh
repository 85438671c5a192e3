// Programmatic dependent launch (Hopper): a kernel launched this way may start while the kernel
// before it on the stream is still running, does what does not depend on it (load weights,
// constants), then waits for it (docs/performance.md#dependent-launch). The decode step is ~450
// short kernels, so the launch gap and each kernel's ramp are a large part of its time.
//
// Every kernel launched with launch_dependent must call wait_for_preceding_kernel() before it
// reads anything an earlier kernel writes and before it writes anything: the preceding kernel may
// still be reading it. Weights are read-only for the whole run and may be loaded before.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace glmh::cuda_kernels {

// Blocks until the preceding kernel on the stream has completed and its writes are visible; a
// no-op for a kernel launched the ordinary way.
__device__ __forceinline__ void wait_for_preceding_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel on the stream, if launched with launch_dependent, start its blocks now.
// Called after this kernel's own wait, so at most two kernels overlap.
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// GLMH_DISABLE_DEPENDENT_LAUNCH=1 launches every kernel the ordinary way (to measure the gain).
inline bool dependent_launch_enabled() {
  static const bool enabled = std::getenv("GLMH_DISABLE_DEPENDENT_LAUNCH") == nullptr;
  return enabled;
}

template <typename... Params, typename... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                      Args... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = dependent_launch_enabled() ? 1 : 0;
  const cudaError_t status = cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("CUDA kernel launch failed: ") + cudaGetErrorString(status));
}

}  // namespace glmh::cuda_kernels
