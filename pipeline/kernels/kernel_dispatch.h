// When a fused op runs its CUDA kernel and when its ATen reference: the kernels exist only in a
// CUDA build of torch (GLMH_WITH_CUDA_KERNELS), take tensors on a CUDA device in bf16 (or fp32
// where the kernel says so) with the layout it names, and can be switched off for a run with
// GLMH_DISABLE_FUSED_KERNELS=1 (to measure or bisect against the reference path).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

// True when `t` is on a CUDA device, this build has the kernels and they are not disabled.
bool fused_kernels_apply(const at::Tensor& t);

// 16-byte aligned start (the kernels' vector loads).
bool aligned_16(const at::Tensor& t);

// The stride between the token rows of t ([B, S, ...]) as a kernel walks them, row r = b S + s at
// r * stride, the rows keeping 16-byte alignment; -1 where no single stride describes them.
int64_t aligned_token_row_stride(const at::Tensor& t);

// The current CUDA stream of `t`'s device, as the launchers take it.
void* current_stream_of(const at::Tensor& t);

#if defined(GLMH_WITH_CUDA_KERNELS)
// The launchers' element type of `t`, which the caller has checked is bf16 or fp32.
inline cuda_kernels::KernelDtype kernel_dtype(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? cuda_kernels::KernelDtype::BFloat16 : cuda_kernels::KernelDtype::Float32;
}
#endif

}  // namespace glmh
