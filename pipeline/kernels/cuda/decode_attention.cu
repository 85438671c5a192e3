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

  // Every global load of the block issued before the first is used (a loop that stored each
  // load before issuing the next paid one memory latency per iteration).
  const int t = threadIdx.x;
  constexpr int kQVectors = kMaxGroup * kHeadDim / 8 / kThreads, kKvVectors = kKeys * kHeadDim / 8 / kThreads;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  uint4 qv[kQVectors], kv[kKvVectors], vv[kKvVectors];
  const uint4* q_head = reinterpret_cast<const uint4*>(q + int64_t(head) * group * kHeadDim);
#pragma unroll
  for (int j = 0; j < kQVectors; ++j) {
    const int i = t + j * kThreads;  // 16-byte vector i of the [kMaxGroup, kHeadDim] query block
    qv[j] = i < group * kHeadDim / 8 ? q_head[i] : zero;
  }
  const __nv_bfloat16* k_rows = keys + (int64_t(head) * capacity + first_key) * kHeadDim;
  const __nv_bfloat16* v_rows = values + (int64_t(head) * capacity + first_key) * kHeadDim;
#pragma unroll
  for (int j = 0; j < kKvVectors; ++j) {
    const int i = t + j * kThreads, row = i / (kHeadDim / 8), col = (i % (kHeadDim / 8)) * 8;
    // Rows past the valid keys are zeros: their weight is 0, and 0 x (whatever the slot holds) may be NaN.
    kv[j] = row < keys_here ? *reinterpret_cast<const uint4*>(k_rows + row * kHeadDim + col) : zero;
    vv[j] = row < keys_here ? *reinterpret_cast<const uint4*>(v_rows + row * kHeadDim + col) : zero;
  }
#pragma unroll
  for (int j = 0; j < kQVectors; ++j) {
    const int i = t + j * kThreads;
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&qv[j]);
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const float2 f = __bfloat1622float2(pairs[w]);
      q_s[i / (kHeadDim / 8)][(i % (kHeadDim / 8)) * 8 + 2 * w] = f.x;
      q_s[i / (kHeadDim / 8)][(i % (kHeadDim / 8)) * 8 + 2 * w + 1] = f.y;
    }
  }
#pragma unroll
  for (int j = 0; j < kKvVectors; ++j) {
    const int i = t + j * kThreads, row = i / (kHeadDim / 8), col = (i % (kHeadDim / 8)) * 8;
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&kv[j]);
#pragma unroll
    for (int w = 0; w < 4; ++w) k_s[row][col / 2 + w] = pairs[w];
    *reinterpret_cast<uint4*>(&v_s[row][col]) = vv[j];
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

constexpr int kMaxSplitsPerThread = 8;  // the merge's statistics pass: splits <= 8 x 128

__global__ void __launch_bounds__(kHeadDim)
    decode_merge_kernel(__nv_bfloat16* out, const int64_t* valid_keys, const float* partial_out,
                        const float* partial_stats, int group, int splits, int64_t capacity) {
  __shared__ float weight_s[kMaxSplitsPerThread * kHeadDim];
  __shared__ float scratch[kHeadDim / 32];
  const int head = blockIdx.x / group, g = blockIdx.x % group, t = threadIdx.x;
  const int64_t valid = *valid_keys < capacity ? *valid_keys : capacity;
  const int used = int((valid + kKeys - 1) / kKeys);
  // Statistics pass: thread t takes splits t, t + 128, ...; the block's max and weighted sum.
  float m[kMaxSplitsPerThread], l[kMaxSplitsPerThread], local_max = -INFINITY;
#pragma unroll
  for (int j = 0; j < kMaxSplitsPerThread; ++j) {
    const int s = t + j * kHeadDim;
    m[j] = -INFINITY, l[j] = 0.f;
    if (s < used) {
      const float* stats = partial_stats + ((int64_t(head) * splits + s) * group + g) * 2;
      m[j] = stats[0], l[j] = stats[1];
    }
    local_max = fmaxf(local_max, m[j]);
  }
  local_max = warp_max(local_max);
  if (t % 32 == 0) scratch[t / 32] = local_max;
  __syncthreads();
  float block_max = -INFINITY;
#pragma unroll
  for (int w = 0; w < kHeadDim / 32; ++w) block_max = fmaxf(block_max, scratch[w]);
  float local_sum = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxSplitsPerThread; ++j) {
    const int s = t + j * kHeadDim;
    const float w = s < used ? expf(m[j] - block_max) : 0.f;
    if (s < kMaxSplitsPerThread * kHeadDim) weight_s[s] = w;
    local_sum += w * l[j];
  }
  const float total = block_sum<kHeadDim>(local_sum, scratch);  // synchronises: weight_s is complete
  // Value pass: thread t takes dimension t over the used splits, loads independent of each other.
  float value = 0.f;
#pragma unroll 8
  for (int s = 0; s < used; ++s)
    value += weight_s[s] * partial_out[((int64_t(head) * splits + s) * group + g) * kHeadDim + t];
  out[(int64_t(head) * group + g) * kHeadDim + t] = __float2bfloat16_rn(used > 0 ? value / total : 0.f);
}

}  // namespace

void launch_decode_attention(void* out, const void* q, const void* keys, const void* values,
                             const int64_t* valid_keys, float* partial_out, float* partial_stats, int64_t bh,
                             int64_t group, int64_t capacity, float scale, void* stream) {
  const int splits = int((capacity + kKeys - 1) / kKeys);  // the wrapper keeps splits <= 8 x 128
  if (bh == 0 || splits == 0) return;
  decode_partial_kernel<<<dim3(unsigned(splits), unsigned(bh)), kThreads, 0, as_stream(stream)>>>(
      static_cast<const __nv_bfloat16*>(q), static_cast<const __nv_bfloat16*>(keys),
      static_cast<const __nv_bfloat16*>(values), valid_keys, partial_out, partial_stats, int(group), capacity, scale);
  decode_merge_kernel<<<unsigned(bh * group), kHeadDim, 0, as_stream(stream)>>>(
      static_cast<__nv_bfloat16*>(out), valid_keys, partial_out, partial_stats, int(group), splits, capacity);
}

}  // namespace glmh::cuda_kernels
