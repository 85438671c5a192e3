#include "pipeline/kernels/rotary_neox_partial.h"

#include <ATen/ATen.h>

#include "pipeline/kernels/kernel_dispatch.h"
#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

at::Tensor rotary_neox_partial_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                         int64_t rot) {
  const int64_t hd = x.size(-1);
  const at::Tensor r = x.narrow(-1, 0, rot);
  const at::Tensor swapped = at::cat({r.narrow(-1, rot / 2, rot / 2), r.narrow(-1, 0, rot / 2)}, -1);
  return at::cat({at::addcmul(r * cos, swapped, sin), x.narrow(-1, rot, hd - rot)}, -1);
}

at::Tensor rotary_neox_partial(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rot) {
  TORCH_CHECK(x.dim() == 4 && rot % 2 == 0 && rot <= x.size(3), "rotary_neox_partial: x must be [B, H, S, hd]");
#if defined(GLMH_WITH_CUDA_KERNELS)
  const int64_t b = x.size(0), h = x.size(1), s = x.size(2), hd = x.size(3);
  auto table_ok = [&](const at::Tensor& t) {
    return t.scalar_type() == at::kBFloat16 && t.is_contiguous() && t.numel() == b * s * rot && t.size(-1) == rot;
  };
  if (fused_kernels_apply(x) && x.scalar_type() == at::kBFloat16 && x.stride(3) == 1 && table_ok(cos) &&
      table_ok(sin)) {
    at::Tensor out = at::empty({b, h, s, hd}, x.options());
    cuda_kernels::launch_rotary_neox_partial(out.data_ptr(), x.data_ptr(), x.stride(0), x.stride(1), x.stride(2),
                                             cos.data_ptr(), sin.data_ptr(), b, h, s, hd, rot, current_stream_of(x));
    return out;
  }
#endif
  return rotary_neox_partial_reference(x, cos, sin, rot);
}

at::Tensor rotary_qk_into_kv_cache_reference(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                                             int64_t rot, int64_t q_heads, const at::Tensor& k_cache,
                                             const at::Tensor& v_cache, const at::Tensor& slot) {
  const int64_t kv_heads = k_cache.size(1);
  const at::Tensor qk = rotary_neox_partial(qkv.narrow(1, 0, q_heads + kv_heads), cos, sin, rot);
  // index_copy_ writes through the handles: the caches are shared tensors, not this function's.
  at::Tensor(k_cache).index_copy_(2, slot, qk.narrow(1, q_heads, kv_heads));
  at::Tensor(v_cache).index_copy_(2, slot, qkv.narrow(1, q_heads + kv_heads, kv_heads));
  return qk.narrow(1, 0, q_heads);
}

at::Tensor rotary_qk_into_kv_cache(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin, int64_t rot,
                                   int64_t q_heads, const at::Tensor& k_cache, const at::Tensor& v_cache,
                                   const at::Tensor& slot) {
  TORCH_CHECK(qkv.dim() == 4 && qkv.size(2) == 1 && k_cache.dim() == 4 && v_cache.sizes() == k_cache.sizes() &&
                  qkv.size(0) == k_cache.size(0) && qkv.size(1) == q_heads + 2 * k_cache.size(1) &&
                  qkv.size(3) == k_cache.size(3) && slot.numel() == 1,
              "rotary_qk_into_kv_cache: qkv [B, q_heads + 2 kv_heads, 1, hd] and caches [B, kv_heads, capacity, hd]");
#if defined(GLMH_WITH_CUDA_KERNELS)
  const int64_t b = qkv.size(0), hd = qkv.size(3);
  auto table_ok = [&](const at::Tensor& t) {
    return t.scalar_type() == at::kBFloat16 && t.is_contiguous() && t.numel() == b * rot && t.size(-1) == rot;
  };
  auto cache_ok = [&](const at::Tensor& t) {
    return t.scalar_type() == at::kBFloat16 && t.is_contiguous() && t.device() == qkv.device();
  };
  if (fused_kernels_apply(qkv) && qkv.scalar_type() == at::kBFloat16 && qkv.stride(3) == 1 && table_ok(cos) &&
      table_ok(sin) && cache_ok(k_cache) && cache_ok(v_cache) && slot.scalar_type() == at::kLong &&
      slot.device() == qkv.device()) {
    at::Tensor q = at::empty({b, q_heads, 1, hd}, qkv.options());
    cuda_kernels::launch_rotary_qk_into_kv_cache(q.data_ptr(), k_cache.data_ptr(), v_cache.data_ptr(), qkv.data_ptr(),
                                                 qkv.stride(0), qkv.stride(1), cos.data_ptr(), sin.data_ptr(),
                                                 slot.contiguous().data_ptr<int64_t>(), b, q_heads, k_cache.size(1),
                                                 k_cache.size(2), hd, rot, current_stream_of(qkv));
    return q;
  }
#endif
  return rotary_qk_into_kv_cache_reference(qkv, cos, sin, rot, q_heads, k_cache, v_cache, slot);
}

}  // namespace glmh
