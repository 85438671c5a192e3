// The CUDA kernels' launchers, free of torch headers so that nvcc compiles only the kernels. Each
// takes raw device pointers of an already checked layout (the checks and the ATen reference are
// in the .cpp of the same name one folder up) and enqueues on `stream` (a cudaStream_t), with no
// host synchronisation. Element types: KernelDtype (kernel_dtype() in
// ../kernel_dispatch.h maps a tensor to it).
#pragma once

#include <cstdint>

namespace glmh::cuda_kernels {

enum class KernelDtype { BFloat16, Float32 };

// out[r, :] = LN(x[r, :]) * (1 + scale[r / rows_per_batch, :]) + shift[r / rows_per_batch, :],
// LN without affine; every intermediate rounded to the element type as the ATen composition does.
// Rows of `width` elements (width = 256 x {1, 2, 4, 8, 16}), row strides in elements.
void launch_layer_norm_modulate(KernelDtype dtype, void* out, int64_t out_row_stride, const void* x,
                                int64_t x_row_stride, const void* scale, const void* shift, int64_t rows,
                                int64_t rows_per_batch, int64_t width, float eps, void* stream);

// Per-head LayerNorm (no affine) of x [batch, seq, heads, 128] (rows of heads * 128 at
// x_row_stride), then, for the tokens at and after `text_len`, split-half rotary with
// cos/sin [seq - text_len, 64] (fp32), into out (contiguous [batch, seq, heads, 128]).
void launch_head_norm_rotary(KernelDtype dtype, void* out, const void* x, int64_t x_row_stride, const float* cos,
                             const float* sin, int64_t batch, int64_t seq, int64_t heads, int64_t text_len, float eps,
                             void* stream);

// Split-key ("flash-decoding") attention of one new token, bf16: q [bh, group, 128], keys and values
// [bh, capacity, 128] (bh = batch x KV heads), over the first *valid_keys keys (int64 on the
// device, read by the kernel: a CUDA graph replays it as the cache fills). partial_out
// [bh, splits, group, 128] and partial_stats [bh, splits, group, 2] are fp32 scratch,
// splits = ceil(capacity / kDecodeKeysPerSplit). out [bh, group, 128].
constexpr int64_t kDecodeKeysPerSplit = 32;
void launch_decode_attention(void* out, const void* q, const void* keys, const void* values,
                             const int64_t* valid_keys, float* partial_out, float* partial_stats, int64_t bh,
                             int64_t group, int64_t capacity, float scale, void* stream);

// y = W x (+ bias) for one token: weight [n, k] row-major bf16, x [k], k % 8 == 0, k <= 16384;
// two output rows per warp, fp32 accumulation. With gated_rows > 0 the weight is [2 F, k] (F =
// gated_rows: gate rows, then up rows) and y [F] = up * silu(gate), each rounded to bf16 as the
// ATen composition does.
void launch_decode_gemv(void* y, const void* x, const void* weight, const void* bias, int64_t n, int64_t k,
                        int64_t gated_rows, void* stream);

// Per row: h_out = h + rms_norm(y) * w_y, z = rms_norm(h_out) * w_z (bf16, fp32 statistics; the
// norm's product is rounded once, like at::rms_norm on CUDA). width % 8 == 0, width <= 8192.
void launch_add_rms_norm_pair(void* h_out, void* z, const void* h, const void* y, const void* w_y, const void* w_z,
                              int64_t rows, int64_t width, float eps, void* stream);

// NeoX rotary of the first `rot` dims of x [B, H, S, hd] (strides in elements, unit last), the rest
// copied: out = x * cos + swap_halves(x) * sin, with cos / sin [B, S, rot] contiguous and the
// rotation's sign folded into sin; out contiguous [B, H, S, hd]. bf16, rounded as the composition.
void launch_rotary_neox_partial(void* out, const void* x, int64_t stride_b, int64_t stride_h, int64_t stride_s,
                                const void* cos, const void* sin, int64_t batch, int64_t heads, int64_t seq,
                                int64_t head_dim, int64_t rot, void* stream);

// One decode token's q, k, v ([B, q_heads + 2 kv_heads, 1, hd] at strides stride_b, stride_h, unit
// last): q rotated as above into q_out (contiguous [B, q_heads, 1, hd]), k rotated and v copied into
// slot *slot (int64 on the device) of k_cache / v_cache (contiguous [B, kv_heads, capacity, hd]);
// cos / sin [B, rot].
void launch_rotary_qk_into_kv_cache(void* q_out, void* k_cache, void* v_cache, const void* qkv, int64_t stride_b,
                                    int64_t stride_h, const void* cos, const void* sin, const int64_t* slot,
                                    int64_t batch, int64_t q_heads, int64_t kv_heads, int64_t capacity,
                                    int64_t head_dim, int64_t rot, void* stream);

}  // namespace glmh::cuda_kernels
