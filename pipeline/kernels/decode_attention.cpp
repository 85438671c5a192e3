#include "pipeline/kernels/decode_attention.h"

#include <ATen/ATen.h>

#include <cmath>

#include "pipeline/kernels/kernel_dispatch.h"
#include "pipeline/runtime/torch_compat.h"
#if defined(GLMH_WITH_CUDA_KERNELS)
#include "pipeline/kernels/cuda/launchers.h"
#endif

namespace glmh {

at::Tensor decode_attention_reference(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                                      const at::Tensor& valid_keys) {
  const at::Tensor slots = at::arange(keys.size(2), valid_keys.options());
  return compat::attention(q, keys, values, slots < valid_keys);
}

at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                            const at::Tensor& valid_keys) {
  TORCH_CHECK(q.dim() == 4 && keys.dim() == 4 && values.sizes() == keys.sizes() && q.size(0) == keys.size(0) &&
                  q.size(1) == keys.size(1) && q.size(3) == keys.size(3),
              "decode_attention: q [B, KVH, G, Dh] and keys / values [B, KVH, capacity, Dh] must agree");
#if defined(GLMH_WITH_CUDA_KERNELS)
  const int64_t bh = q.size(0) * q.size(1), group = q.size(2), capacity = keys.size(2), dh = q.size(3);
  const bool kernel_takes = q.scalar_type() == at::kBFloat16 && keys.scalar_type() == at::kBFloat16 &&
                            values.scalar_type() == at::kBFloat16 && dh == 128 &&
                            capacity <= 1024 * cuda_kernels::kDecodeKeysPerSplit &&
                            keys.is_contiguous() && values.is_contiguous() && aligned_16(keys) && aligned_16(values) &&
                            valid_keys.scalar_type() == at::kLong && valid_keys.numel() == 1 &&
                            valid_keys.device() == q.device();
  if (fused_kernels_apply(q) && kernel_takes && bh > 0) {
    const at::Tensor query = q.contiguous(), valid = valid_keys.contiguous();
    const int64_t splits = (capacity + cuda_kernels::kDecodeKeysPerSplit - 1) / cuda_kernels::kDecodeKeysPerSplit;
    const auto f32 = q.options().dtype(at::kFloat);
    at::Tensor partial_out = at::empty({bh, splits, group, dh}, f32), stats = at::empty({bh, splits, group, 2}, f32);
    at::Tensor out = at::empty(q.sizes(), q.options().memory_format(at::MemoryFormat::Contiguous));
    cuda_kernels::launch_decode_attention(out.data_ptr(), query.data_ptr(),
                                          keys.data_ptr(), values.data_ptr(), valid.data_ptr<int64_t>(),
                                          partial_out.data_ptr<float>(), stats.data_ptr<float>(), bh, group, capacity,
                                          float(1.0 / std::sqrt(double(dh))), current_stream_of(q));
    return out;
  }
#endif
  return decode_attention_reference(q, keys, values, valid_keys);
}

}  // namespace glmh
