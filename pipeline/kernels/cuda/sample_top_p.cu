// One token per row from temperature-scaled logits under top-p (nucleus) filtering, by inverse CDF:
// the sampling tail of an AR decode step in one kernel instead of ~20 ATen kernels around a radix
// sort (docs/performance.md#fused-kernels). One block per row; thread t owns the contiguous ids
// [t per, (t + 1) per). Deterministic: fixed reduction trees, and the nucleus found by a radix
// select whose per-digit masses are integers (fixed point), summed per warp by the lanes that share
// a digit and then across warps in a fixed order.
#include <cmath>
#include <cstdint>

#include "pipeline/kernels/cuda/dependent_launch.cuh"
#include "pipeline/kernels/cuda/element_math.cuh"
#include "pipeline/kernels/cuda/launchers.h"

namespace glmh::cuda_kernels {

namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxPerThread = int(kSampleTopPMaxVocab / kThreads);
constexpr double kFixedOne = 4611686018427387904.0;  // 2^62: a probability of 1 in fixed point

// An unsigned key in the order of the floats (-inf lowest).
__device__ __forceinline__ uint32_t order_key(float x) {
  const uint32_t bits = __float_as_uint(x);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

__device__ __forceinline__ double warp_sum_double(double v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Block max and sum, every thread getting the result; `scratch` holds kWarps values.
__device__ float block_max(float v, float* scratch) {
  v = warp_max(v);
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float m = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) m = fmaxf(m, scratch[w]);
  return m;
}

__device__ double block_sum_double(double v, double* scratch) {
  v = warp_sum_double(v);
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  double total = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total += scratch[w];
  return total;
}

// The sum of `v` over the threads before this one, and the block's total.
__device__ double block_exclusive_scan(double v, double* scratch, double& total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  double inclusive = v;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const double up = __shfl_up_sync(0xffffffffu, inclusive, offset);
    if (lane >= offset) inclusive += up;
  }
  __syncthreads();
  if (lane == 31) scratch[warp] = inclusive;
  __syncthreads();
  double before = 0;
  total = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before += scratch[w];
    total += scratch[w];
  }
  return before + inclusive - v;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sample_top_p_kernel(int64_t* tokens, const T* logits, const double* uniform, int64_t vocab, int64_t allowed,
                        float inv_temperature, double top_p) {
  __shared__ float scratch_f[kWarps];
  __shared__ double scratch_d[kWarps];
  __shared__ unsigned long long warp_mass[kWarps][256];
  __shared__ unsigned long long mass[256];
  __shared__ uint32_t chosen_prefix;
  __shared__ unsigned long long chosen_base;
  __shared__ unsigned long long first_pick;

  const int t = threadIdx.x, row = blockIdx.x, lane = t % 32, warp = t / 32;
  const int per = int((vocab + kThreads - 1) / kThreads);
  const int64_t first = int64_t(t) * per;
  const T* in = logits + int64_t(row) * vocab;
  wait_for_preceding_kernel();  // the logits come from the kernel before
  allow_dependent_launch();

  // The reference's order: float, the ids from `allowed` on ruled out, then the temperature
  // (ATen divides by a scalar as a product with its reciprocal).
  float e[kMaxPerThread];
  float local_max = -INFINITY;
#pragma unroll
  for (int j = 0; j < kMaxPerThread; ++j) {
    const int64_t i = first + j;
    const bool real = j < per && i < vocab && (allowed <= 0 || i < allowed);
    e[j] = real ? to_float(in[i]) * inv_temperature : -INFINITY;
    local_max = fmaxf(local_max, e[j]);
  }
  const float m = block_max(local_max, scratch_f);
  // Unnormalised probabilities exp(x - max), in [0, 1]: in the logits' order, so their order keys
  // serve the selection below.
  double local_sum = 0;
#pragma unroll
  for (int j = 0; j < kMaxPerThread; ++j) {
    e[j] = e[j] == -INFINITY ? 0.f : expf(e[j] - m);
    local_sum += double(e[j]);
  }
  const double z = block_sum_double(local_sum, scratch_d);

  // The nucleus: HF sorts the probabilities ascending (a stable sort: ties in id order) and
  // removes the ids while their cumulative probability stays at or below 1 - top_p, always keeping
  // the most likely. With S(k) the mass of the ids whose key is at most k, the removed ids are
  // those with key < K, K the least key with S(K) > 1 - top_p, and the first r of the ids whose key
  // is K (equal probabilities, frequent with bf16 logits), as many as fit under the limit. A radix
  // select finds K, 8 bits per pass from the top: the masses per digit of the ids still in the
  // range, the first digit where the running mass passes the limit.
  uint32_t kept_from = 0;         // K; 0 keeps everything
  double removed_at_kept_from = 0;  // r
  if (top_p < 1.0) {
    const double scale = kFixedOne / z;
    const unsigned long long limit = (unsigned long long)((1.0 - top_p) * kFixedOne);
    uint32_t prefix = 0;
    unsigned long long base = 0;  // mass of the ids below the range
    for (int shift = 24; shift >= 0; shift -= 8) {
#pragma unroll
      for (int k = 0; k < 8; ++k) warp_mass[warp][8 * lane + k] = 0;
      __syncwarp();
      const uint32_t range_mask = shift == 24 ? 0u : ~0u << (shift + 8);
#pragma unroll
      for (int j = 0; j < kMaxPerThread; ++j) {
        const uint32_t key = order_key(e[j]);
        const bool counted = e[j] > 0.f && (key & range_mask) == prefix;
        const unsigned counting = __ballot_sync(0xffffffffu, counted);
        if (counted) {
          // The lanes with the same digit add their masses (24-bit parts, so that 32 of them fit
          // in 32 bits) and the lowest of them adds the sum to the warp's histogram.
          const uint32_t digit = (key >> shift) & 255u;
          const unsigned peers = __match_any_sync(counting, digit);
          const unsigned long long q = (unsigned long long)(double(e[j]) * scale);
          const unsigned lo = __reduce_add_sync(peers, unsigned(q & 0xffffffu));
          const unsigned mid = __reduce_add_sync(peers, unsigned((q >> 24) & 0xffffffu));
          const unsigned hi = __reduce_add_sync(peers, unsigned(q >> 48));
          if (lane == __ffs(peers) - 1)
            warp_mass[warp][digit] += lo + ((unsigned long long)mid << 24) + ((unsigned long long)hi << 48);
        }
        __syncwarp();
      }
      __syncthreads();
      for (int b = t; b < 256; b += kThreads) {
        unsigned long long sum = 0;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) sum += warp_mass[w][b];
        mass[b] = sum;
      }
      __syncthreads();
      if (t < 32) {  // one warp: lane l scans digits 8 l .. 8 l + 7
        unsigned long long digit_mass[8], lane_mass = 0;
#pragma unroll
        for (int k = 0; k < 8; ++k) lane_mass += digit_mass[k] = mass[8 * t + k];
        unsigned long long inclusive = lane_mass;
#pragma unroll
        for (int offset = 1; offset < 32; offset *= 2) {
          const unsigned long long up = __shfl_up_sync(0xffffffffu, inclusive, offset);
          if (t >= offset) inclusive += up;
        }
        unsigned long long running = base + inclusive - lane_mass;
        int digit = -1;
        unsigned long long below = 0;
#pragma unroll
        for (int k = 0; k < 8; ++k) {
          if (digit < 0 && running + digit_mass[k] > limit) digit = k, below = running;
          if (digit < 0) running += digit_mass[k];
        }
        const unsigned crossing = __ballot_sync(0xffffffffu, digit >= 0);
        if (crossing == 0) {  // rounding left the whole range at or below the limit: keep the top
          if (t == 0) chosen_prefix = order_key(1.f), chosen_base = ~0ull;
        } else if (t == __ffs(crossing) - 1) {
          chosen_prefix = prefix | (uint32_t(8 * t + digit) << shift);
          chosen_base = below;
        }
      }
      __syncthreads();
      prefix = chosen_prefix;
      base = chosen_base;
      if (base == ~0ull) break;  // every thread reads the same value
    }
    kept_from = prefix;
    if (base != ~0ull) {
      const float value = __uint_as_float(kept_from ^ 0x80000000u);  // the key's probability (positive)
      const unsigned long long q = (unsigned long long)(double(value) * scale);
      removed_at_kept_from = double((limit - base) / q);
    }
  }
  // Each id's place among those with key K, in id order.
  double tied_here = 0;
#pragma unroll
  for (int j = 0; j < kMaxPerThread; ++j) tied_here += e[j] > 0.f && order_key(e[j]) == kept_from ? 1.0 : 0.0;
  double tied_total = 0;
  const double tied_before = block_exclusive_scan(tied_here, scratch_d, tied_total);

  // The draw: the first id whose cumulative kept weight reaches uniform x total.
  // The weight of this thread's j-th id; `tied_rank` counts the ids with key K met so far.
  auto kept_weight = [&](int j, double& tied_rank) {
    const uint32_t key = order_key(e[j]);
    bool kept = e[j] > 0.f && key >= kept_from;
    if (kept && key == kept_from) kept = tied_rank++ >= removed_at_kept_from;
    return kept ? double(e[j]) : 0.0;
  };
  double local = 0, tied_rank = tied_before;
#pragma unroll
  for (int j = 0; j < kMaxPerThread; ++j) local += kept_weight(j, tied_rank);
  double total = 0;
  double running = block_exclusive_scan(local, scratch_d, total);
  const double target = uniform[row] * total;
  if (t == 0) first_pick = ~0ull;
  __syncthreads();
  int64_t pick = -1;
  tied_rank = tied_before;
#pragma unroll
  for (int j = 0; j < kMaxPerThread; ++j) {
    running += kept_weight(j, tied_rank);
    if (pick < 0 && j < per && first + j < vocab && running >= target) pick = first + j;
  }
  if (pick >= 0) atomicMin(&first_pick, (unsigned long long)pick);
  __syncthreads();
  if (t == 0) tokens[row] = first_pick == ~0ull ? vocab - 1 : int64_t(first_pick);
}

}  // namespace

void launch_sample_top_p(KernelDtype dtype, int64_t* tokens, const void* logits, const double* uniform, int64_t rows,
                         int64_t vocab, int64_t allowed, float temperature, double top_p, void* stream) {
  if (rows == 0) return;
  const float inv_temperature = 1.0f / temperature;
  if (dtype == KernelDtype::BFloat16)
    launch_dependent(sample_top_p_kernel<__nv_bfloat16>, dim3(unsigned(rows)), dim3(kThreads), 0, as_stream(stream),
                     tokens, static_cast<const __nv_bfloat16*>(logits), uniform, vocab, allowed, inv_temperature, top_p);
  else
    launch_dependent(sample_top_p_kernel<float>, dim3(unsigned(rows)), dim3(kThreads), 0, as_stream(stream), tokens,
                     static_cast<const float*>(logits), uniform, vocab, allowed, inv_temperature, top_p);
}

}  // namespace glmh::cuda_kernels
