// Attention of one new token over the KV cache, split over the keys ("flash-decoding"):
// docs/performance.md#fused-kernels. Phase 1: one block per (KV head, 32 keys) scores the group's
// queries against its keys and keeps an unnormalised partial output with its max and sum; blocks
// past the valid keys (read on the device) return at once. Phase 2: one block per query merges
// the partials of the valid splits. bf16, head_dim 128, up to 16 queries per KV head.
#include <cmath>

#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/element_math.cuh"

namespace glmh::cuda_kernels {

namespace {

constexpr int kHeadDim = 128;
constexpr int kMaxGroup = 16;
constexpr int kKeys = int(kDecodeKeysPerSplit);
constexpr int kThreads = 128;
constexpr int kParts = kThreads / kKeys;           // threads per key while scoring, each a slice of the dims
constexpr int kPartDims = kHeadDim / kParts;
constexpr int kKeyWords = kHeadDim / 2 + 1;  // a key row of bf16 pairs, padded: fewer bank conflicts

__global__ void __launch_bounds__(kThreads)
    decode_partial_kernel(const __nv_bfloat16* q, const __nv_bfloat16* keys, const __nv_bfloat16* values,
                          const int64_t* valid_keys, float* partial_out, float* partial_stats, int group,
                          int64_t capacity, float scale) {
  const int split = blockIdx.x, head = blockIdx.y, splits = gridDim.x;
  const int64_t first_key = int64_t(split) * kKeys, valid = *valid_keys;
  if (first_key >= valid) return;  // the merge reads only the splits that hold valid keys
  const int64_t last_key = valid < capacity ? valid : capacity;
  const int keys_here = int(last_key - first_key < kKeys ? last_key - first_key : kKeys);

  __shared__ __align__(16) float q_s[kMaxGroup][kHeadDim];
  __shared__ __nv_bfloat162 k_s[kKeys][kKeyWords];
  __shared__ __align__(16) __nv_bfloat16 v_s[kKeys][kHeadDim];
  __shared__ __align__(16) float p_s[kMaxGroup][kKeys];

  const int t = threadIdx.x;
  for (int i = t; i < kMaxGroup * kHeadDim; i += kThreads)
    q_s[i / kHeadDim][i % kHeadDim] = i < group * kHeadDim ? __bfloat162float(q[int64_t(head) * group * kHeadDim + i]) : 0.f;
  const __nv_bfloat16* k_rows = keys + (int64_t(head) * capacity + first_key) * kHeadDim;
  const __nv_bfloat16* v_rows = values + (int64_t(head) * capacity + first_key) * kHeadDim;
  for (int i = t; i < kKeys * kHeadDim / 8; i += kThreads) {  // 8 elements per 16-byte load
    const int row = i / (kHeadDim / 8), col = (i % (kHeadDim / 8)) * 8;
    // Rows past the valid keys are zeros: their weight is 0, and 0 x (whatever the slot holds) may be NaN.
    const uint4 zero = make_uint4(0, 0, 0, 0);
    const uint4 kv = row < keys_here ? *reinterpret_cast<const uint4*>(k_rows + row * kHeadDim + col) : zero;
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&kv);
    for (int w = 0; w < 4; ++w) k_s[row][col / 2 + w] = pairs[w];
    *reinterpret_cast<uint4*>(&v_s[row][col]) =
        row < keys_here ? *reinterpret_cast<const uint4*>(v_rows + row * kHeadDim + col) : zero;
  }
  __syncthreads();

  // Scores: kParts threads per key, each over kPartDims dimensions for every query, then summed.
  const int key = t / kParts, part = t % kParts;
  float acc[kMaxGroup] = {};
#pragma unroll
  for (int d = part * kPartDims; d < (part + 1) * kPartDims; d += 4) {
    const float2 k01 = __bfloat1622float2(k_s[key][d / 2]), k23 = __bfloat1622float2(k_s[key][d / 2 + 1]);
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
      const float4 qv = *reinterpret_cast<const float4*>(&q_s[g][d]);
      acc[g] += qv.x * k01.x + qv.y * k01.y + qv.z * k23.x + qv.w * k23.y;
    }
  }
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g)
    for (int offset = 1; offset < kParts; offset *= 2) acc[g] += __shfl_xor_sync(0xffffffffu, acc[g], offset);
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g)  // static indices keep acc in registers
    if (g % kParts == part && g < group) p_s[g][key] = key < keys_here ? acc[g] * scale : -INFINITY;
  __syncthreads();

  // Softmax statistics per query: warp w takes queries w, w + 4, ...; one key per lane.
  const int warp = t / 32, lane = t % 32;
  for (int g = warp; g < group; g += kThreads / 32) {
    const float a = p_s[g][lane];
    const float m = warp_max(a);  // finite: a split holds at least one valid key
    const float e = expf(a - m);
    const float l = warp_sum(e);
    p_s[g][lane] = e;
    if (lane == 0) {
      float* stats = partial_stats + ((int64_t(head) * splits + split) * group + g) * 2;
      stats[0] = m;
      stats[1] = l;
    }
  }
  __syncthreads();

  // Unnormalised output: thread t takes dimension t for every query, four keys at a time.
  float out[kMaxGroup] = {};
#pragma unroll 2
  for (int k = 0; k < kKeys; k += 4) {
    const float v0 = __bfloat162float(v_s[k][t]), v1 = __bfloat162float(v_s[k + 1][t]),
                v2 = __bfloat162float(v_s[k + 2][t]), v3 = __bfloat162float(v_s[k + 3][t]);
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
      const float4 p = *reinterpret_cast<const float4*>(&p_s[g][k]);
      out[g] += p.x * v0 + p.y * v1 + p.z * v2 + p.w * v3;
    }
  }
  float* dst = partial_out + (int64_t(head) * splits + split) * group * kHeadDim;
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g)
    if (g < group) dst[g * kHeadDim + t] = out[g];
}

__global__ void __launch_bounds__(kHeadDim)
    decode_merge_kernel(__nv_bfloat16* out, const int64_t* valid_keys, const float* partial_out,
                        const float* partial_stats, int group, int splits, int64_t capacity) {
  const int head = blockIdx.x / group, g = blockIdx.x % group, d = threadIdx.x;
  const int64_t valid = *valid_keys < capacity ? *valid_keys : capacity;
  const int used = int((valid + kKeys - 1) / kKeys);
  float m = -INFINITY;
#pragma unroll 8
  for (int s = 0; s < used; ++s) m = fmaxf(m, partial_stats[((int64_t(head) * splits + s) * group + g) * 2]);
  float sum = 0.f, value = 0.f;
#pragma unroll 8
  for (int s = 0; s < used; ++s) {
    const float* stats = partial_stats + ((int64_t(head) * splits + s) * group + g) * 2;
    const float w = expf(stats[0] - m);
    sum += w * stats[1];
    value += w * partial_out[((int64_t(head) * splits + s) * group + g) * kHeadDim + d];
  }
  out[(int64_t(head) * group + g) * kHeadDim + d] = __float2bfloat16_rn(used > 0 ? value / sum : 0.f);
}

}  // namespace

void launch_decode_attention(KernelDtype dtype, void* out, const void* q, const void* keys, const void* values,
                             const int64_t* valid_keys, float* partial_out, float* partial_stats, int64_t bh,
                             int64_t group, int64_t capacity, float scale, void* stream) {
  (void)dtype;  // bf16 only: the wrapper falls back to the reference for anything else
  const int splits = int((capacity + kKeys - 1) / kKeys);
  if (bh == 0 || splits == 0) return;
  decode_partial_kernel<<<dim3(unsigned(splits), unsigned(bh)), kThreads, 0, as_stream(stream)>>>(
      static_cast<const __nv_bfloat16*>(q), static_cast<const __nv_bfloat16*>(keys),
      static_cast<const __nv_bfloat16*>(values), valid_keys, partial_out, partial_stats, int(group), capacity, scale);
  decode_merge_kernel<<<unsigned(bh * group), kHeadDim, 0, as_stream(stream)>>>(
      static_cast<__nv_bfloat16*>(out), valid_keys, partial_out, partial_stats, int(group), splits, capacity);
}

}  // namespace glmh::cuda_kernels
