// Per-head QK LayerNorm and split-half rotary of the image tokens in one pass:
// docs/performance.md#fused-kernels. Four elements of a head vector of 128 per lane; the
// rotary pairs element d with d + 64, i.e. lane l with lane l ^ 16.
#include "pipeline/kernels/cuda/launchers.h"
#include "pipeline/kernels/cuda/element_math.cuh"

namespace glmh::cuda_kernels {

namespace {

constexpr int kHeadDim = 128;
constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ void load4(const __nv_bfloat16* p, float* v) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
  const float2 a = __bfloat1622float2(pairs[0]), b = __bfloat1622float2(pairs[1]);
  v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
}
__device__ __forceinline__ void load4(const float* p, float* v) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
}
__device__ __forceinline__ void store4(__nv_bfloat16* p, const float* v) {
  uint2 raw;
  __nv_bfloat162* pairs = reinterpret_cast<__nv_bfloat162*>(&raw);
  pairs[0] = __floats2bfloat162_rn(v[0], v[1]);
  pairs[1] = __floats2bfloat162_rn(v[2], v[3]);
  *reinterpret_cast<uint2*>(p) = raw;
}
__device__ __forceinline__ void store4(float* p, const float* v) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}

// One warp per token, its heads eight at a time with their loads issued together: a warp per head
// vector kept too few bytes in flight and paid a 64-bit division per vector.
constexpr int kHeadsInFlight = 8;

template <typename T>
__device__ __forceinline__ void norm_rotate(float* v, bool rotate, const float* cos_row, const float* sin_row, float eps,
                                           int lane) {
  const float mean = warp_sum(v[0] + v[1] + v[2] + v[3]) / float(kHeadDim);
  float squares = 0.f;
#pragma unroll
  for (int e = 0; e < 4; ++e) squares += (v[e] - mean) * (v[e] - mean);
  const float rstd = rsqrtf(warp_sum(squares) / float(kHeadDim) + eps);
#pragma unroll
  for (int e = 0; e < 4; ++e) v[e] = round_to<T>((v[e] - mean) * rstd);
  if (!rotate) return;
  const bool first_half = lane < 16;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float partner = __shfl_xor_sync(0xffffffffu, v[e], 16);
    const float c = cos_row[e], s = sin_row[e];
    // x1 c - x2 s and x2 c + x1 s, each product rounded on its own as the fp32 reference does.
    v[e] = first_half ? __fsub_rn(__fmul_rn(v[e], c), __fmul_rn(partner, s))
                      : __fadd_rn(__fmul_rn(v[e], c), __fmul_rn(partner, s));
  }
}

template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    head_norm_rotary_kernel(T* out, const T* x, int64_t x_row_stride, const float* cos, const float* sin,
                            int64_t tokens, int64_t seq, int heads, int64_t text_len, float eps) {
  const int lane = threadIdx.x % 32;
  const int64_t token = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (token >= tokens) return;
  const int64_t position = token % seq;
  const bool rotate = position >= text_len;
  float c[4] = {}, s[4] = {};
  if (rotate) {
    const int64_t angle_row = (position - text_len) * (kHeadDim / 2) + (lane % 16) * 4;
#pragma unroll
    for (int e = 0; e < 4; ++e) c[e] = cos[angle_row + e], s[e] = sin[angle_row + e];
  }
  const T* in = x + token * x_row_stride + lane * 4;
  T* dst = out + token * int64_t(heads) * kHeadDim + lane * 4;
  for (int first = 0; first < heads; first += kHeadsInFlight) {
    float v[kHeadsInFlight][4];
#pragma unroll
    for (int h = 0; h < kHeadsInFlight; ++h)
      if (first + h < heads) load4(in + (first + h) * kHeadDim, v[h]);
#pragma unroll
    for (int h = 0; h < kHeadsInFlight; ++h) {
      if (first + h < heads) {
        norm_rotate<T>(v[h], rotate, c, s, eps, lane);
        store4(dst + (first + h) * kHeadDim, v[h]);
      }
    }
  }
}

template <typename T>
void launch(void* out, const void* x, int64_t x_row_stride, const float* cos, const float* sin, int64_t batch,
            int64_t seq, int64_t heads, int64_t text_len, float eps, cudaStream_t stream) {
  const int64_t tokens = batch * seq;
  if (tokens == 0 || heads == 0) return;
  const unsigned blocks = unsigned((tokens + kWarpsPerBlock - 1) / kWarpsPerBlock);
  head_norm_rotary_kernel<T><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
      static_cast<T*>(out), static_cast<const T*>(x), x_row_stride, cos, sin, tokens, seq, int(heads), text_len, eps);
}

}  // namespace

void launch_head_norm_rotary(KernelDtype dtype, void* out, const void* x, int64_t x_row_stride, const float* cos,
                             const float* sin, int64_t batch, int64_t seq, int64_t heads, int64_t text_len, float eps,
                             void* stream) {
  if (dtype == KernelDtype::BFloat16)
    launch<__nv_bfloat16>(out, x, x_row_stride, cos, sin, batch, seq, heads, text_len, eps, as_stream(stream));
  else
    launch<float>(out, x, x_row_stride, cos, sin, batch, seq, heads, text_len, eps, as_stream(stream));
}

}  // namespace glmh::cuda_kernels
