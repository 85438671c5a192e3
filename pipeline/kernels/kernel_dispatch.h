// When a fused op runs its CUDA kernel and when its ATen reference: the kernels exist only in a
// CUDA build of torch (GLMH_WITH_CUDA_KERNELS), take tensors on a CUDA device in bf16 (or fp32
// where the kernel says so) with the layout it names, and can be switched off for a run with
// GLMH_DISABLE_FUSED_KERNELS=1 (to measure or bisect against the reference path).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

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

}  // namespace glmh
