// Matrix-vector products of the AR decode step (one token): docs/performance.md#fused-kernels.
// cuBLAS's kernels for n x k by k x 1 reached 3.0-3.7 TB/s on an H200; this one keeps two batches
// of 16-byte weight loads in flight per warp, starts loading before the preceding kernel ends
// (dependent_launch.cuh) and can fuse the feed-forward's silu(gate) * up.
#include "pipeline/kernels/cuda/dependent_launch.cuh"
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/vector_io.cuh"

namespace glmh::cuda_kernels {

namespace {

// Two resident blocks per SM (94 registers a thread). Three (unroll 3, <= 80 registers), which
// would have put the q/k/v product's 288 blocks in one wave, measured slower: 5.26 against 5.15 ms
// per token (reports/gpu/20261201-h200x1-decode).
constexpr int kWarps = 8;
constexpr int kUnroll = 4;  // 16-byte loads per row in flight per lane

__device__ __forceinline__ float dot8(const uint4& w, const float* x) {
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&w);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    s += f.x * x[2 * i] + f.y * x[2 * i + 1];
  }
  return s;
}

__device__ __forceinline__ float silu(float v) { return v / (1.f + expf(-v)); }

// One batch of a warp's weight loads: kUnroll 16-byte vectors of each of its two rows per lane.
__device__ __forceinline__ void load_weight_batch(const uint4* w0, const uint4* w1, int base, int chunks, int lane,
                                                  uint4 (&a)[kUnroll], uint4 (&b)[kUnroll]) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int c = base + u * 32 + lane;
    if (c < chunks) {
      a[u] = __ldg(w0 + c);
      b[u] = __ldg(w1 + c);
    }
  }
}

// Each warp computes rows r0 and r1; plain: r0 = 2 w, r1 = 2 w + 1; gated: gate row w, up row w + F.
// The weights' first batch is loaded before waiting for the preceding kernel (they do not depend
// on it), and every later batch while the one before is being summed.
__global__ void __launch_bounds__(kWarps * 32)
    decode_gemv_kernel(__nv_bfloat16* y, const __nv_bfloat16* x, const __nv_bfloat16* weight,
                       const __nv_bfloat16* bias, int64_t n, int k, int64_t gated_rows) {
  extern __shared__ __align__(16) __nv_bfloat16 x_s[];
  constexpr int kBatch = 32 * kUnroll;
  const int chunks = k / 8, lane = threadIdx.x % 32;
  const int64_t warp = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int64_t outputs = gated_rows > 0 ? gated_rows : n;
  const int64_t first = gated_rows > 0 ? warp : 2 * warp;
  const bool has_rows = first < outputs;
  const int64_t r0 = first, r1 = gated_rows > 0 ? warp + gated_rows : first + 1;
  const bool has_r1 = has_rows && (gated_rows > 0 || r1 < n);
  const uint4* w0 = reinterpret_cast<const uint4*>(weight + (has_rows ? r0 : 0) * k);
  const uint4* w1 = reinterpret_cast<const uint4*>(weight + (has_r1 ? r1 : has_rows ? r0 : 0) * k);
  uint4 a[kUnroll], b[kUnroll];
  if (has_rows) load_weight_batch(w0, w1, 0, chunks, lane, a, b);

  wait_for_preceding_kernel();
  allow_dependent_launch();
  // x into shared memory (k <= 16384: at most 8 loads per thread), four loads issued together per
  // round: all eight at once would not fit the register budget beside the weights.
  constexpr int kXLoadsPerRound = 4, kXRounds = 16384 / 8 / (kWarps * 32) / kXLoadsPerRound;
#pragma unroll
  for (int round = 0; round < kXRounds; ++round) {
    uint4 xv[kXLoadsPerRound];
#pragma unroll
    for (int j = 0; j < kXLoadsPerRound; ++j) {
      const int c = threadIdx.x + (round * kXLoadsPerRound + j) * kWarps * 32;
      if (c < chunks) xv[j] = reinterpret_cast<const uint4*>(x)[c];
    }
#pragma unroll
    for (int j = 0; j < kXLoadsPerRound; ++j) {
      const int c = threadIdx.x + (round * kXLoadsPerRound + j) * kWarps * 32;
      if (c < chunks) reinterpret_cast<uint4*>(x_s)[c] = xv[j];
    }
  }
  __syncthreads();
  if (!has_rows) return;

  float s0 = 0.f, s1 = 0.f;
  for (int base = 0; base < chunks; base += kBatch) {
    uint4 next_a[kUnroll], next_b[kUnroll];
    if (base + kBatch < chunks) load_weight_batch(w0, w1, base + kBatch, chunks, lane, next_a, next_b);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = base + u * 32 + lane;
      if (c < chunks) {
        float xf[8];
        load8(x_s + c * 8, xf);
        s0 += dot8(a[u], xf);
        s1 += dot8(b[u], xf);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) a[u] = next_a[u], b[u] = next_b[u];
  }
  s0 = warp_sum(s0);
  s1 = warp_sum(s1);
  if (lane != 0) return;
  if (gated_rows > 0) {
    // up * silu(gate), rounded where the composition stores: the product, silu, their product.
    const float gate = round_to<__nv_bfloat16>(s0), up = round_to<__nv_bfloat16>(s1);
    y[warp] = __float2bfloat16_rn(up * round_to<__nv_bfloat16>(silu(gate)));
    return;
  }
  if (bias != nullptr) {  // added before the one rounding, as cuBLAS's bias epilogue does
    s0 += __bfloat162float(bias[r0]);
    if (has_r1) s1 += __bfloat162float(bias[r1]);
  }
  y[r0] = __float2bfloat16_rn(s0);
  if (has_r1) y[r1] = __float2bfloat16_rn(s1);
}

}  // namespace

void launch_decode_gemv(void* y, const void* x, const void* weight, const void* bias, int64_t n, int64_t k,
                        int64_t gated_rows, void* stream) {
  const int64_t warps = gated_rows > 0 ? gated_rows : (n + 1) / 2;
  if (warps == 0) return;
  const unsigned blocks = unsigned((warps + kWarps - 1) / kWarps);
  const size_t shared = size_t(k) * sizeof(__nv_bfloat16);
  if (shared > 48 * 1024)
    cudaFuncSetAttribute(decode_gemv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared));
  launch_dependent(decode_gemv_kernel, dim3(blocks), dim3(kWarps * 32), shared, as_stream(stream),
                   static_cast<__nv_bfloat16*>(y), static_cast<const __nv_bfloat16*>(x),
                   static_cast<const __nv_bfloat16*>(weight), static_cast<const __nv_bfloat16*>(bias), n, int(k),
                   gated_rows);
}

}  // namespace glmh::cuda_kernels
