// The one place where libtorch 1.13 (Debian, CPU) and libtorch 2.x (pip wheel, CUDA) differ for glmh.
//
// Two parts: the model's (attention), and c10d's. The c10d part takes ~20 s to compile, so it is
// compiled only where GLMH_COMPAT_WITH_C10D is defined before the include (the communicator and
// the rendezvous). Facts behind the c10d items: ../shared/docs/c10d-portability.md.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#define GLMH_TORCH_GE(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace glmh::compat {

// Bidirectional attention over [B, H, S, D] tensors with the default 1/sqrt(D) scale.
// 2.x: the fused scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
// 1.13 has no public SDPA: the same math, with the softmax in fp32.
inline at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if GLMH_TORCH_GE(2, 0)
  return at::scaled_dot_product_attention(q, k, v);
#else
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

// Causal attention (query i sees keys 0..i) over [B, H, S, D] with the default scale.
inline at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
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
