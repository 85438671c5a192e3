#include "pipeline/kernels/kernel_dispatch.h"

#include <cstdlib>
#include <cstring>

#if defined(GLMH_WITH_CUDA_KERNELS)
#include <c10/cuda/CUDAStream.h>
#endif

namespace glmh {

#if defined(GLMH_WITH_CUDA_KERNELS)
namespace {
bool disabled_by_environment() {
  static const bool disabled = [] {
    const char* v = std::getenv("GLMH_DISABLE_FUSED_KERNELS");
    return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
  }();
  return disabled;
}
}  // namespace
#endif

bool fused_kernels_apply(const at::Tensor& t) {
#if defined(GLMH_WITH_CUDA_KERNELS)
  return t.is_cuda() && !disabled_by_environment();
#else
  (void)t;
  return false;
#endif
}

bool aligned_16(const at::Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 16 == 0; }

int64_t aligned_token_row_stride(const at::Tensor& t) {
  const int64_t stride = t.size(1) > 1 ? t.stride(1) : t.stride(0);
  const bool one_stride = t.size(0) == 1 || t.stride(0) == t.size(1) * stride;
  return one_stride && stride % 8 == 0 && aligned_16(t) ? stride : -1;
}

void* current_stream_of(const at::Tensor& t) {
#if defined(GLMH_WITH_CUDA_KERNELS)
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
#else
  (void)t;
  return nullptr;
#endif
}

}  // namespace glmh
