// Attention of one new token over the KV cache, split over the keys ("flash-decoding"):
// docs/performance.md#fused-kernels. Phase 1: one block per (KV head, 32 keys) scores the group's
// queries (8 per block) against its keys and keeps an unnormalised partial output with its max and
// sum; blocks past the valid keys (read on the device) return at once. Phase 2: one block per
// query merges the partials of the valid splits. bf16, head_dim 128, any number of queries per KV head.
#include <cmath>

#include "pipeline/kernels/cuda/dependent_launch.cuh"
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/element_math.cuh"

namespace glmh::cuda_kernels {

namespace {

constexpr int kHeadDim = 128;
constexpr int kQueries = 8;  // queries per block: a group of 16 takes two blocks per split
constexpr int kKeys = int(kDecodeKeysPerSplit);
constexpr int kThreads = 128;
constexpr int kParts = kThreads / kKeys;  // threads per key while scoring
constexpr int kChunks = kHeadDim / 4;     // float4 chunks of a row; part p takes chunks p, p + kParts, ...
// Row strides in floats. The kParts threads of a key read chunks 16 bytes apart, two keys per
// quarter warp: a key row 16 floats longer than the head puts them in different banks.
constexpr int kKeyStride = kHeadDim + 16;

__global__ void __launch_bounds__(kThreads)
    decode_partial_kernel(const __nv_bfloat16* q, const __nv_bfloat16* keys, const __nv_bfloat16* values,
                          const int64_t* valid_keys, float* partial_out, float* partial_stats, int group,
                          int64_t capacity, float scale) {
  const int split = blockIdx.x, head = blockIdx.y, splits = gridDim.x, first_query = blockIdx.z * kQueries;
  const int queries = group - first_query < kQueries ? group - first_query : kQueries;
  wait_for_preceding_kernel();  // q and the cache come from the kernels before
  allow_dependent_launch();
  const int64_t first_key = int64_t(split) * kKeys, valid = *valid_keys;
  if (first_key >= valid) return;  // the merge reads only the splits that hold valid keys
  const int64_t last_key = valid < capacity ? valid : capacity;
  const int keys_here = int(last_key - first_key < kKeys ? last_key - first_key : kKeys);

  __shared__ __align__(16) float q_s[kQueries][kHeadDim];
  __shared__ __align__(16) float k_s[kKeys][kKeyStride];
  __shared__ __align__(16) __nv_bfloat16 v_s[kKeys][kHeadDim];
  __shared__ __align__(16) float p_s[kQueries][kKeys];

  // Every global load of the block issued before the first is used (a loop that stored each
  // load before issuing the next paid one memory latency per iteration).
  const int t = threadIdx.x;
  constexpr int kKvVectors = kKeys * kHeadDim / 8 / kThreads;
  static_assert(kQueries * kHeadDim / 8 == kThreads, "one 16-byte query vector per thread");
  const uint4 zero = make_uint4(0, 0, 0, 0);
  const int q_row = t / (kHeadDim / 8), q_col = (t % (kHeadDim / 8)) * 8;
  const __nv_bfloat16* q_rows = q + (int64_t(head) * group + first_query) * kHeadDim;
  const uint4 qv = q_row < queries ? *reinterpret_cast<const uint4*>(q_rows + q_row * kHeadDim + q_col) : zero;
  uint4 kv[kKvVectors], vv[kKvVectors];
  const __nv_bfloat16* k_rows = keys + (int64_t(head) * capacity + first_key) * kHeadDim;
  const __nv_bfloat16* v_rows = values + (int64_t(head) * capacity + first_key) * kHeadDim;
#pragma unroll
  for (int j = 0; j < kKvVectors; ++j) {
    const int i = t + j * kThreads, row = i / (kHeadDim / 8), col = (i % (kHeadDim / 8)) * 8;
    // Rows past the valid keys are zeros: their weight is 0, and 0 x (whatever the slot holds) may be NaN.
    kv[j] = row < keys_here ? *reinterpret_cast<const uint4*>(k_rows + row * kHeadDim + col) : zero;
    vv[j] = row < keys_here ? *reinterpret_cast<const uint4*>(v_rows + row * kHeadDim + col) : zero;
  }
  auto store_floats = [](float* dst, const uint4& raw) {
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
    const float2 a = __bfloat1622float2(pairs[0]), b = __bfloat1622float2(pairs[1]),
                 c = __bfloat1622float2(pairs[2]), d = __bfloat1622float2(pairs[3]);
    reinterpret_cast<float4*>(dst)[0] = make_float4(a.x, a.y, b.x, b.y);
    reinterpret_cast<float4*>(dst)[1] = make_float4(c.x, c.y, d.x, d.y);
  };
  store_floats(&q_s[q_row][q_col], qv);
#pragma unroll
  for (int j = 0; j < kKvVectors; ++j) {
    const int i = t + j * kThreads, row = i / (kHeadDim / 8), col = (i % (kHeadDim / 8)) * 8;
    store_floats(&k_s[row][col], kv[j]);
    *reinterpret_cast<uint4*>(&v_s[row][col]) = vv[j];
  }
  __syncthreads();

  // Scores: kParts threads per key, each over every kParts-th chunk of the dimensions for every
  // query, then summed across the kParts neighbouring lanes.
  const int key = t / kParts, part = t % kParts;
  float acc[kQueries] = {};
#pragma unroll
  for (int c = part; c < kChunks; c += kParts) {
    const float4 k4 = *reinterpret_cast<const float4*>(&k_s[key][c * 4]);
#pragma unroll
    for (int g = 0; g < kQueries; ++g) {
      const float4 q4 = *reinterpret_cast<const float4*>(&q_s[g][c * 4]);
      acc[g] += q4.x * k4.x + q4.y * k4.y + q4.z * k4.z + q4.w * k4.w;
    }
  }
#pragma unroll
  for (int g = 0; g < kQueries; ++g)
#pragma unroll
    for (int offset = 1; offset < kParts; offset *= 2) acc[g] += __shfl_xor_sync(0xffffffffu, acc[g], offset);
#pragma unroll
  for (int g = 0; g < kQueries; ++g)  // static indices keep acc in registers
    if (g % kParts == part) p_s[g][key] = key < keys_here ? acc[g] * scale : -INFINITY;
  __syncthreads();

  // Softmax statistics per query: warp w takes queries w, w + 4, ...; one key per lane.
  const int warp = t / 32, lane = t % 32;
  for (int g = warp; g < queries; g += kThreads / 32) {
    const float a = p_s[g][lane];
    const float m = warp_max(a);  // finite: a split holds at least one valid key
    const float e = expf(a - m);
    const float l = warp_sum(e);
    p_s[g][lane] = e;
    if (lane == 0) {
      float* stats = partial_stats + ((int64_t(head) * splits + split) * group + first_query + g) * 2;
      stats[0] = m;
      stats[1] = l;
    }
  }
  __syncthreads();

  // Unnormalised output: thread t takes dimension t for every query, four keys at a time.
  float out[kQueries] = {};
#pragma unroll 2
  for (int k = 0; k < kKeys; k += 4) {
    const float v0 = __bfloat162float(v_s[k][t]), v1 = __bfloat162float(v_s[k + 1][t]),
                v2 = __bfloat162float(v_s[k + 2][t]), v3 = __bfloat162float(v_s[k + 3][t]);
#pragma unroll
    for (int g = 0; g < kQueries; ++g) {
      const float4 p = *reinterpret_cast<const float4*>(&p_s[g][k]);
      out[g] += p.x * v0 + p.y * v1 + p.z * v2 + p.w * v3;
    }
  }
  float* dst = partial_out + ((int64_t(head) * splits + split) * group + first_query) * kHeadDim;
#pragma unroll
  for (int g = 0; g < kQueries; ++g)
    if (g < queries) dst[g * kHeadDim + t] = out[g];
}

constexpr int kMergeSlices = 4;  // thread groups of kHeadDim, each over every 4th split
constexpr int kMergeThreads = kMergeSlices * kHeadDim;
constexpr int kMaxSplitsPerThread = 2;  // the statistics pass: splits <= 2 x 512

__global__ void __launch_bounds__(kMergeThreads)
    decode_merge_kernel(__nv_bfloat16* out, const int64_t* valid_keys, const float* partial_out,
                        const float* partial_stats, int group, int splits, int64_t capacity) {
  __shared__ float weight_s[kMaxSplitsPerThread * kMergeThreads];
  __shared__ float value_s[kMergeSlices][kHeadDim];
  __shared__ float scratch[kMergeThreads / 32];
  wait_for_preceding_kernel();  // the partials
  allow_dependent_launch();
  const int head = blockIdx.x / group, g = blockIdx.x % group, t = threadIdx.x;
  const int64_t valid = *valid_keys < capacity ? *valid_keys : capacity;
  const int used = int((valid + kKeys - 1) / kKeys);
  // Statistics pass: thread t takes splits t, t + 512; the block's max and weighted sum.
  float m[kMaxSplitsPerThread], l[kMaxSplitsPerThread], local_max = -INFINITY;
#pragma unroll
  for (int j = 0; j < kMaxSplitsPerThread; ++j) {
    const int s = t + j * kMergeThreads;
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
  for (int w = 0; w < kMergeThreads / 32; ++w) block_max = fmaxf(block_max, scratch[w]);
  float local_sum = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxSplitsPerThread; ++j) {
    const int s = t + j * kMergeThreads;
    const float w = s < used ? expf(m[j] - block_max) : 0.f;
    weight_s[s] = w;
    local_sum += w * l[j];
  }
  const float total = block_sum<kMergeThreads>(local_sum, scratch);  // synchronises: weight_s is complete
  // Value pass: slice `slice` takes splits slice, slice + 4, ... for dimension d, loads independent
  // of each other; the slices' sums are then added in a fixed order.
  const int slice = t / kHeadDim, d = t % kHeadDim;
  float value = 0.f;
#pragma unroll 4
  for (int s = slice; s < used; s += kMergeSlices)
    value += weight_s[s] * partial_out[((int64_t(head) * splits + s) * group + g) * kHeadDim + d];
  value_s[slice][d] = value;
  __syncthreads();
  if (slice != 0) return;
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kMergeSlices; ++i) sum += value_s[i][d];
  out[(int64_t(head) * group + g) * kHeadDim + d] = __float2bfloat16_rn(used > 0 ? sum / total : 0.f);
}

}  // namespace

void launch_decode_attention(void* out, const void* q, const void* keys, const void* values,
                             const int64_t* valid_keys, float* partial_out, float* partial_stats, int64_t bh,
                             int64_t group, int64_t capacity, float scale, void* stream) {
  const int splits = int((capacity + kKeys - 1) / kKeys);  // the wrapper keeps splits <= 2 x 512
  if (bh == 0 || splits == 0 || group == 0) return;
  const unsigned query_blocks = unsigned((group + kQueries - 1) / kQueries);
  launch_dependent(decode_partial_kernel, dim3(unsigned(splits), unsigned(bh), query_blocks), dim3(kThreads), 0,
                   as_stream(stream), static_cast<const __nv_bfloat16*>(q), static_cast<const __nv_bfloat16*>(keys),
                   static_cast<const __nv_bfloat16*>(values), valid_keys, partial_out, partial_stats, int(group),
                   capacity, scale);
  launch_dependent(decode_merge_kernel, dim3(unsigned(bh * group)), dim3(kMergeThreads), 0, as_stream(stream),
                   static_cast<__nv_bfloat16*>(out), valid_keys, static_cast<const float*>(partial_out),
                   static_cast<const float*>(partial_stats), int(group), splits, capacity);
}

}  // namespace glmh::cuda_kernels
