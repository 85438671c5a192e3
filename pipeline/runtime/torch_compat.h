// The one place where libtorch 1.13 (Debian, CPU) and libtorch 2.x (pip wheel, CUDA) differ for glmh.
//
// Two parts: the model's (attention), and c10d's. The c10d part takes ~20 s to compile, so it is
// compiled only where GLMH_COMPAT_WITH_C10D is defined before the include (the communicator and
// the rendezvous). Facts behind the c10d items: docs/c10d.md.
#pragma once

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <torch/version.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#define GLMH_TORCH_GE(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace glmh::compat {

// Every attention below runs inside a profiler scope of this name, so that a CPU trace (where
// attention is matmuls and a softmax) can tell it apart (docs/performance.md#step-breakdown).
inline constexpr const char* kAttentionScope = "glmh::attention";

// Bidirectional attention over [B, H, S, D] tensors with the default 1/sqrt(D) scale.
// 2.x: the fused scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
// 1.13 has no public SDPA: the same math, with the softmax in fp32.
inline at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  RECORD_USER_SCOPE(kAttentionScope);
#if GLMH_TORCH_GE(2, 0)
  return at::scaled_dot_product_attention(q, k, v);
#else
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

// The same with a key mask (bool [Sk], true = attend), every query seeing at least one key.
inline at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_mask) {
  RECORD_USER_SCOPE(kAttentionScope);
#if GLMH_TORCH_GE(2, 0)
  return at::scaled_dot_product_attention(q, k, v, key_mask.view({1, 1, 1, -1}));
#else
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  scores = scores.masked_fill(key_mask.logical_not(), -std::numeric_limits<float>::infinity());
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

// Causal attention (query i sees keys 0..i) over [B, H, S, D] with the default scale.
inline at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  RECORD_USER_SCOPE(kAttentionScope);
#if GLMH_TORCH_GE(2, 0)
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/true);
#else
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  const at::Tensor future =
      at::ones({q.size(-2), k.size(-2)}, at::TensorOptions().dtype(at::kBool).device(q.device())).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

// RMSNorm over the last dimension: x / sqrt(mean(x²) + eps) in fp32, cast back to x's dtype, times
// `weight` (HF's order). 2.8+ on CUDA: at::rms_norm's fused kernel, one launch instead of eight,
// which matters in the AR decode step (4 norms × 40 layers per token); it multiplies by the weight
// before casting back, a last-bit difference in bf16. The CPU keeps the spelled-out order.
inline at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#if GLMH_TORCH_GE(2, 8)
  if (x.is_cuda() && x.scalar_type() == weight.scalar_type()) return at::rms_norm(x, {x.size(-1)}, weight, eps);
#endif
  const at::Tensor xf = x.to(at::kFloat);
  return weight * (xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps)).to(x.scalar_type());
}

// Attention over [B, H, Sq, D] / [B, H, Sk, D] that also returns each query's log-sum-exp of its
// scaled scores ([B, H, Sq], fp32): what ring attention needs to merge partial results.
// `key_mask` (optional, bool [Sk], true = attend) hides padding keys. A query that sees no key
// gets output 0 and log-sum-exp -inf, so merging it is a no-op.
// On CUDA in bf16/fp16 without a mask, a fused kernel that returns the log-sum-exp itself: cuDNN's
// on 2.5+ (on Hopper about twice as fast as the flash kernel, which 2.0-2.4 use).
inline std::pair<at::Tensor, at::Tensor> attention_with_lse(const at::Tensor& q, const at::Tensor& k,
                                                           const at::Tensor& v, const at::Tensor& key_mask = {}) {
  RECORD_USER_SCOPE(kAttentionScope);
#if GLMH_TORCH_GE(2, 5)
  if (q.is_cuda() && !key_mask.defined() && (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf)) {
    auto r = at::_scaled_dot_product_cudnn_attention(q, k, v, /*attn_bias=*/std::nullopt, /*compute_log_sumexp=*/true);
    return {std::get<0>(r), std::get<1>(r).reshape({q.size(0), q.size(1), q.size(2)})};  // cuDNN: [B, H, Sq, 1]
  }
#elif GLMH_TORCH_GE(2, 0)
  if (q.is_cuda() && !key_mask.defined() && (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf)) {
    auto r = at::_scaled_dot_product_flash_attention(q, k, v);
    return {std::get<0>(r), std::get<1>(r)};
  }
#endif
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  if (key_mask.defined()) scores = scores.masked_fill(key_mask.logical_not(), -std::numeric_limits<float>::infinity());
  const at::Tensor lse = at::logsumexp(scores, -1);
  // exp(score - lse): a row with every key hidden has lse -inf; give it weights 0, not NaN.
  const at::Tensor finite_lse = lse.masked_fill(lse.isinf(), 0.0);
  const at::Tensor weights = at::exp(scores - finite_lse.unsqueeze(-1));
  return {at::matmul(weights.to(v.scalar_type()), v), lse};
}

}  // namespace glmh::compat

#if defined(GLMH_COMPAT_WITH_C10D)

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

// Our own switches, set by cmake/GlmhTorch.cmake. The c10d headers silently compile to nothing
// without USE_C10D_*, so insist on both.
#if defined(GLMH_WITH_GLOO)
#if !defined(USE_C10D_GLOO)
#error "GLMH_WITH_GLOO needs USE_C10D_GLOO"
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(GLMH_WITH_NCCL)
#if !defined(USE_C10D_NCCL)
#error "GLMH_WITH_NCCL needs USE_C10D_NCCL"
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <c10/cuda/CUDAFunctions.h>
#endif

#if GLMH_TORCH_GE(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace glmh::compat {

// 2.x moved the collectives from ProcessGroup (abstract, subclassed by each backend) to Backend
// (ProcessGroup became a dispatching front-end). The method names and signatures are the same, so
// glmh holds the concrete backend through this alias and calls it directly.
#if GLMH_TORCH_GE(2, 0)
using PgBase = c10d::Backend;
#else
using PgBase = c10d::ProcessGroup;
#endif

// The TCPStore wire dialect this libtorch's client and server speak (tcp_store_wire.h). torch 2.1
// made every connection open with a VALIDATE request and moved every command code up by one, so
// 1.13's client cannot use a store served by torch >= 2.1 (torchrun's agent store): its requests
// are dropped, time out or have the connection reset.
inline constexpr bool kTcpStoreClientValidates = GLMH_TORCH_GE(2, 1);

// 1.13's Gloo has no _allgather_base / reduce_scatter and rejects bfloat16 outright.
#if GLMH_TORCH_GE(2, 0)
inline constexpr bool kGlooHasFlatCollectives = true;
inline constexpr bool kGlooHasBFloat16 = true;
#else
inline constexpr bool kGlooHasFlatCollectives = false;
inline constexpr bool kGlooHasBFloat16 = false;
#endif

#if defined(GLMH_WITH_NCCL)
// 2.x: bind the communicator to its device and connect eagerly, so the first collective is not
// where a missing peer is discovered, and P2P does not create extra 2-rank communicators.
inline void nccl_eager_init(c10d::ProcessGroupNCCL& pg, const c10::Device& device) {
#if GLMH_TORCH_GE(2, 3)
  pg.setBoundDeviceId(device);
  pg.eagerConnectSingleDevice(device);
#else
  (void)pg;
  (void)device;
#endif
}

// 2.x wants an explicit shutdown before destruction; 1.13 has none.
inline void nccl_shutdown(c10d::ProcessGroupNCCL& pg) {
#if GLMH_TORCH_GE(2, 2)
  pg.shutdown();
#else
  (void)pg;
#endif
}
#endif

}  // namespace glmh::compat

#endif  // GLMH_COMPAT_WITH_C10D
