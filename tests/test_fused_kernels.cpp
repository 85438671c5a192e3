// The fused ops of pipeline/kernels/: on the CPU, that each ATen reference computes what its
// definition says (checked against the formula in fp64); on a GPU, that each CUDA kernel gives the
// reference's result at the model's real shapes and layouts (strided slices, text rows, partial
// caches). The GPU cases skip where there is no CUDA device.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/kernels/add_rms_norm_pair.h"
#include "pipeline/kernels/decode_attention.h"
#include "pipeline/kernels/decode_linear.h"
#include "pipeline/kernels/head_norm_rotary.h"
#include "pipeline/kernels/layer_norm_modulate.h"
#include "pipeline/kernels/linear_gelu_tanh.h"
#include "pipeline/kernels/rotary_neox_partial.h"
#include "pipeline/model/dit/dit_rotary.h"

namespace glmh {
namespace {

constexpr double kEps = 1e-5;

at::Tensor f64(const at::Tensor& t) { return t.to(at::kCPU, at::kDouble); }

at::Tensor layer_norm_by_formula(const at::Tensor& x) {
  const at::Tensor d = f64(x);
  const at::Tensor mean = d.mean(-1, true), var = (d - mean).pow(2).mean(-1, true);
  return (d - mean) / at::sqrt(var + kEps);
}

// The largest difference relative to the reference's scale.
double relative_max_difference(const at::Tensor& got, const at::Tensor& want) {
  return (f64(got) - f64(want)).abs().max().item<double>() / std::max(1e-12, f64(want).abs().max().item<double>());
}

// Fraction of elements equal bit for bit.
double fraction_equal(const at::Tensor& got, const at::Tensor& want) {
  return f64(got).eq(f64(want)).to(at::kDouble).mean().item<double>();
}

TEST(LayerNormModulate, ReferenceIsTheLayerNormThenTheModulationAndWritesOnlyItsRows) {
  at::manual_seed(1);
  const at::Tensor x = at::randn({2, 5, 24}, at::kFloat) * 3 + 1, scale = at::randn({2, 24}), shift = at::randn({2, 24});
  const at::Tensor want = layer_norm_by_formula(x) * (1 + f64(scale).unsqueeze(1)) + f64(shift).unsqueeze(1);
  EXPECT_LT(relative_max_difference(layer_norm_modulate(x, scale, shift, kEps), want), 1e-6);
  at::Tensor joint = at::full({2, 8, 24}, 7.0f);
  layer_norm_modulate_into(joint.narrow(1, 3, 5), x, scale, shift, kEps);
  EXPECT_TRUE(joint.narrow(1, 0, 3).eq(7.0f).all().item<bool>());
  EXPECT_LT(relative_max_difference(joint.narrow(1, 3, 5), want), 1e-6);
}

TEST(HeadNormRotary, ReferenceNormalisesEveryHeadAndRotatesOnlyTheImageTokens) {
  at::manual_seed(2);
  const int64_t text = 3, image = 6, heads = 2, dim = 8;
  const at::Tensor x = at::randn({1, text + image, heads, dim}) * 2;
  auto [cos, sin] = get_freqs_cis(2, 3, dim);
  const at::Tensor got = f64(head_norm_rotary(x, text, cos, sin, kEps));
  const at::Tensor normed = layer_norm_by_formula(x);
  EXPECT_LT((got.narrow(1, 0, text) - normed.narrow(1, 0, text)).abs().max().item<double>(), 1e-6);
  // Element d pairs with d + dim / 2, rotated by the token's angle.
  const at::Tensor n1 = normed.narrow(1, text, image).narrow(-1, 0, dim / 2);
  const at::Tensor n2 = normed.narrow(1, text, image).narrow(-1, dim / 2, dim / 2);
  const at::Tensor c = f64(cos).unsqueeze(0).unsqueeze(2), s = f64(sin).unsqueeze(0).unsqueeze(2);
  const at::Tensor want = at::cat({n1 * c - n2 * s, n2 * c + n1 * s}, -1);
  EXPECT_LT((got.narrow(1, text, image) - want).abs().max().item<double>(), 1e-5);
}

TEST(DecodeAttention, ReferenceAttendsToTheValidKeysOnly) {
  at::manual_seed(3);
  const int64_t kv_heads = 2, group = 3, capacity = 10, dim = 8, valid = 6;
  const at::Tensor q = at::randn({1, kv_heads, group, dim}), k = at::randn({1, kv_heads, capacity, dim}),
                   v = at::randn({1, kv_heads, capacity, dim});
  const at::Tensor count = at::full({1}, valid, at::kLong);
  const at::Tensor got = decode_attention(q, k, v, count);
  const at::Tensor kd = f64(k).narrow(2, 0, valid), vd = f64(v).narrow(2, 0, valid);
  const at::Tensor weights = (at::matmul(f64(q), kd.transpose(-1, -2)) / std::sqrt(double(dim))).softmax(-1);
  EXPECT_LT((f64(got) - at::matmul(weights, vd)).abs().max().item<double>(), 1e-5);
  // Whatever lies past the valid slots does not count.
  at::Tensor k2 = k.clone(), v2 = v.clone();
  k2.narrow(2, valid, capacity - valid).fill_(100.0f);
  v2.narrow(2, valid, capacity - valid).fill_(-100.0f);
  EXPECT_TRUE(at::allclose(decode_attention(q, k2, v2, count), got, 1e-6, 1e-6));
}

TEST(LinearGeluTanh, ReferenceIsTheTanhApproximationOfTheLinearLayer) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({2, 3, 16}), w = at::randn({12, 16}) * 0.3, b = at::randn({12});
  const at::Tensor y = f64(x).matmul(f64(w).t()) + f64(b);
  const at::Tensor want = 0.5 * y * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (y + 0.044715 * y.pow(3))));
  EXPECT_LT((f64(linear_gelu_tanh(x, w, b)) - want).abs().max().item<double>(), 1e-5);
}

at::Tensor rms_norm_by_formula(const at::Tensor& x, const at::Tensor& w) {
  const at::Tensor d = f64(x);
  return d / at::sqrt(d.pow(2).mean(-1, true) + kEps) * f64(w);
}

TEST(AddRmsNormPair, ReferenceAddsTheNormalisedSublayerAndNormalisesTheSum) {
  at::manual_seed(9);
  const at::Tensor h = at::randn({2, 3, 16}), y = at::randn({2, 3, 16}) * 5, wy = at::randn({16}), wz = at::randn({16});
  const auto [sum, normed] = add_rms_norm_pair(h, y, wy, wz, kEps);
  const at::Tensor want_sum = f64(h) + rms_norm_by_formula(y, wy);
  EXPECT_LT((f64(sum) - want_sum).abs().max().item<double>(), 1e-5);
  EXPECT_LT((f64(normed) - rms_norm_by_formula(want_sum, wz)).abs().max().item<double>(), 1e-5);
}

TEST(DecodeSiluGatedUp, ReferenceIsUpTimesTheSiluOfTheGate) {
  at::manual_seed(10);
  const at::Tensor x = at::randn({1, 1, 16}), w = at::randn({2 * 6, 16}) * 0.3;
  const at::Tensor gate_up = f64(x).matmul(f64(w).t());
  const at::Tensor gate = gate_up.narrow(-1, 0, 6), up = gate_up.narrow(-1, 6, 6);
  EXPECT_LT((f64(decode_silu_gated_up(x, w)) - up * gate * at::sigmoid(gate)).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(at::allclose(decode_linear(x, w), at::linear(x, w)));
}

TEST(RotaryNeoxPartial, ReferenceRotatesPairsHalfTheRotaryWidthApartAndPassesTheRestThrough) {
  at::manual_seed(13);
  const int64_t rot = 4, hd = 6;
  const at::Tensor x = at::randn({1, 2, 3, hd}), angle = at::randn({1, 1, 3, rot / 2});
  const at::Tensor c = at::cat({angle.cos(), angle.cos()}, -1), sn = at::cat({-angle.sin(), angle.sin()}, -1);
  const at::Tensor got = f64(rotary_neox_partial(x, c, sn, rot)), xd = f64(x), a = f64(angle);
  const at::Tensor x1 = xd.narrow(-1, 0, 2), x2 = xd.narrow(-1, 2, 2);
  const at::Tensor want = at::cat({x1 * a.cos() - x2 * a.sin(), x2 * a.cos() + x1 * a.sin(), xd.narrow(-1, 4, 2)}, -1);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-5);
}

TEST(RotaryQkIntoKvCache, ReturnsTheRotatedQueryAndWritesTheRotatedKeyAndTheValueIntoTheSlotOnly) {
  at::manual_seed(15);
  const int64_t q_heads = 4, kv = 2, hd = 6, rot = 4, capacity = 5;
  const at::Tensor qkv = at::randn({1, q_heads + 2 * kv, 1, hd}), angle = at::randn({1, 1, 1, rot / 2});
  const at::Tensor c = at::cat({angle.cos(), angle.cos()}, -1), sn = at::cat({-angle.sin(), angle.sin()}, -1);
  const at::Tensor k_cache = at::zeros({1, kv, capacity, hd}), v_cache = at::zeros({1, kv, capacity, hd});
  const at::Tensor slot = at::full({1}, 3, at::kLong);
  const at::Tensor q = rotary_qk_into_kv_cache(qkv, c, sn, rot, q_heads, k_cache, v_cache, slot);
  const at::Tensor qk = rotary_neox_partial_reference(qkv.narrow(1, 0, q_heads + kv), c, sn, rot);
  EXPECT_TRUE(q.equal(qk.narrow(1, 0, q_heads)));
  EXPECT_TRUE(k_cache.narrow(2, 3, 1).equal(qk.narrow(1, q_heads, kv)));
  EXPECT_TRUE(v_cache.narrow(2, 3, 1).equal(qkv.narrow(1, q_heads + kv, kv)));
  EXPECT_EQ(k_cache.count_nonzero().item<int64_t>(), kv * hd);  // no other slot touched
  EXPECT_EQ(v_cache.count_nonzero().item<int64_t>(), kv * hd);
}

// ---- GPU: each kernel against its reference on the same device --------------------------------

class FusedKernelsOnGpu : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  }
  at::TensorOptions options() const { return at::TensorOptions().dtype(GetParam()).device(at::kCUDA); }
  // bf16: one rounding step apart at most, and almost every element identical; fp32: tight.
  void expect_matches(const at::Tensor& got, const at::Tensor& want, const char* what) const {
    const bool bf16 = GetParam() == at::kBFloat16;
    EXPECT_LT(relative_max_difference(got, want), bf16 ? 1.0 / 64 : 1e-5) << what;
    EXPECT_GT(fraction_equal(got, want), bf16 ? 0.98 : 0.5) << what;
  }
};

TEST_P(FusedKernelsOnGpu, LayerNormModulateMatchesTheReferenceInAStridedSliceOfTheJointSequence) {
  at::manual_seed(5);
  const int64_t text = 16, image = 4096, width = 4096;
  for (int64_t batch : {1, 2}) {
    const at::Tensor x = at::randn({batch, image, width}, options()) * 2 + 0.5;
    const at::Tensor c = at::randn({batch, text, width}, options());
    // Scale and shift as the block takes them: chunks of one [B, 12 D] modulation vector.
    const auto m = (at::randn({batch, 12 * width}, options()) * 0.2).chunk(12, 1);
    at::Tensor joint = at::full({batch, text + image, width}, 3.0, options());
    layer_norm_modulate_into(joint.narrow(1, 0, text), c, m[1], m[3], kEps);
    layer_norm_modulate_into(joint.narrow(1, text, image), x, m[0], m[2], kEps);
    expect_matches(joint.narrow(1, 0, text), layer_norm_modulate_reference(c, m[1], m[3], kEps), "text rows");
    expect_matches(joint.narrow(1, text, image), layer_norm_modulate_reference(x, m[0], m[2], kEps), "image rows");
  }
}

TEST_P(FusedKernelsOnGpu, HeadNormRotaryMatchesTheReferenceOnASliceOfAFusedProjection) {
  at::manual_seed(6);
  const int64_t text = 16, grid = 64, heads = 32, dim = 128, seq = text + grid * grid;
  const at::Tensor qkv = at::randn({1, seq, 3 * heads * dim}, options()) * 3;
  const at::Tensor k = qkv.narrow(2, heads * dim, heads * dim).view({1, seq, heads, dim});  // rows at stride 3 D
  auto [cos, sin] = get_freqs_cis(grid, grid, dim);
  cos = cos.cuda();
  sin = sin.cuda();
  const at::Tensor got = head_norm_rotary(k, text, cos, sin, kEps);
  EXPECT_TRUE(got.is_contiguous());
  expect_matches(got, head_norm_rotary_reference(k, text, cos, sin, kEps), "k");
  // A band of image tokens only, as a sequence-parallel rank without the text prefix sees it.
  const at::Tensor band = k.narrow(1, text, 1024);
  expect_matches(head_norm_rotary(band, 0, cos.narrow(0, 0, 1024), sin.narrow(0, 0, 1024), kEps),
                 head_norm_rotary_reference(band, 0, cos.narrow(0, 0, 1024), sin.narrow(0, 0, 1024), kEps), "band");
}

TEST_P(FusedKernelsOnGpu, LinearGeluTanhMatchesTheReference) {
  at::manual_seed(7);
  const at::Tensor x = at::randn({1, 4112, 1024}, options()), w = at::randn({4096, 1024}, options()) * 0.03,
                   b = at::randn({4096}, options());
  const at::Tensor got = linear_gelu_tanh(x, w, b), want = linear_gelu_tanh_reference(x, w, b);
  EXPECT_LT(relative_max_difference(got, want), GetParam() == at::kBFloat16 ? 1.0 / 64 : 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedKernelsOnGpu, ::testing::Values(at::kBFloat16, at::kFloat),
                         [](const auto& info) { return info.param == at::kBFloat16 ? "bf16" : "fp32"; });

// The decode step's products at the 9 B model's shapes (one token; TP 2 halves them), an odd row
// count for the warps' second row, and the bias added before the one rounding.
TEST(DecodeGemvOnGpu, MatchesAtLinearAndTheGatedReferenceAtTheDecoderShapes) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(11);
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  struct Shape {
    int64_t n, k;
    bool bias;
  };
  for (const Shape s : {Shape{4608, 4096, true}, Shape{4096, 4096, false}, Shape{4096, 13696, false},
                        Shape{4097, 6848, true}, Shape{16512, 4096, false}}) {
    const at::Tensor x = at::randn({1, 1, s.k}, bf16), w = at::randn({s.n, s.k}, bf16) * 0.02;
    const at::Tensor b = s.bias ? at::randn({s.n}, bf16) : at::Tensor();
    EXPECT_LT(relative_max_difference(decode_linear(x, w, b), at::linear(x, w, b)), 1.0 / 64) << s.n << " x " << s.k;
  }
  const at::Tensor x = at::randn({1, 1, 4096}, bf16), w = at::randn({2 * 13696, 4096}, bf16) * 0.02;
  EXPECT_LT(relative_max_difference(decode_silu_gated_up(x, w), decode_silu_gated_up_reference(x, w)), 1.0 / 64);
}

TEST(AddRmsNormPairOnGpu, MatchesTheReferenceForOneTokenAndForAPrefill) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(12);
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  for (int64_t rows : {1, 37}) {
    const at::Tensor h = at::randn({1, rows, 4096}, bf16) * 4, y = at::randn({1, rows, 4096}, bf16) * 30;
    const at::Tensor wy = at::randn({4096}, bf16), wz = at::randn({4096}, bf16);
    const auto [sum, normed] = add_rms_norm_pair(h, y, wy, wz, kEps);
    const auto [want_sum, want_normed] = add_rms_norm_pair_reference(h, y, wy, wz, kEps);
    EXPECT_LT(relative_max_difference(sum, want_sum), 1.0 / 64) << rows;
    EXPECT_LT(relative_max_difference(normed, want_normed), 1.0 / 64) << rows;
    EXPECT_GT(fraction_equal(sum, want_sum), 0.95) << rows;
  }
}

TEST(RotaryNeoxPartialOnGpu, MatchesTheReferenceOnTheFusedQkvViewForADecodeTokenAndAPrefill) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(14);
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  const int64_t heads = 32, kv = 2, hd = 128, rot = 64;
  for (int64_t seq : {1, 37}) {
    // [B, S, H + 2 KV, hd] seen as [B, H + 2 KV, S, hd]; q and k are its first H + KV heads.
    const at::Tensor qkv = at::randn({1, seq, heads + 2 * kv, hd}, bf16).transpose(1, 2);
    const at::Tensor x = qkv.narrow(1, 0, heads + kv), angle = at::randn({1, 1, seq, rot / 2}, bf16);
    const at::Tensor c = at::cat({angle.cos(), angle.cos()}, -1), sn = at::cat({-angle.sin(), angle.sin()}, -1);
    const at::Tensor got = rotary_neox_partial(x, c, sn, rot), want = rotary_neox_partial_reference(x, c, sn, rot);
    EXPECT_LT(relative_max_difference(got, want), 1.0 / 64) << seq;
    EXPECT_GT(fraction_equal(got, want), 0.98) << seq;
  }
}

TEST(RotaryQkIntoKvCacheOnGpu, MatchesTheReferenceOnTheFusedQkvViewAndWritesTheSameSlot) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(16);
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  const int64_t heads = 32, kv = 2, hd = 128, rot = 64, capacity = 40;
  const at::Tensor qkv = at::randn({1, 1, heads + 2 * kv, hd}, bf16).transpose(1, 2);
  const at::Tensor angle = at::randn({1, 1, 1, rot / 2}, bf16);
  const at::Tensor c = at::cat({angle.cos(), angle.cos()}, -1), sn = at::cat({-angle.sin(), angle.sin()}, -1);
  const at::Tensor slot = at::full({1}, 17, bf16.dtype(at::kLong));
  const at::Tensor k = at::randn({1, kv, capacity, hd}, bf16), v = at::randn({1, kv, capacity, hd}, bf16);
  const at::Tensor k_want = k.clone(), v_want = v.clone();
  const at::Tensor got = rotary_qk_into_kv_cache(qkv, c, sn, rot, heads, k, v, slot);
  const at::Tensor want = rotary_qk_into_kv_cache_reference(qkv, c, sn, rot, heads, k_want, v_want, slot);
  EXPECT_TRUE(got.equal(want));
  EXPECT_TRUE(k.equal(k_want));
  EXPECT_TRUE(v.equal(v_want));
}

TEST(DecodeAttentionOnGpu, MatchesTheReferenceAtEveryFillOfA2600SlotCacheAndIgnoresUnwrittenSlots) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(8);
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  const int64_t kv_heads = 2, group = 16, capacity = 2600, dim = 128;
  const at::Tensor q = at::randn({1, kv_heads, group, dim}, bf16);
  at::Tensor k = at::randn({1, kv_heads, capacity, dim}, bf16), v = at::randn({1, kv_heads, capacity, dim}, bf16);
  for (int64_t valid : {1, 63, 64, 65, 1300, 2599, 2600}) {
    const at::Tensor count = at::full({1}, valid, bf16.dtype(at::kLong));
    const at::Tensor got = decode_attention(q, k, v, count), want = decode_attention_reference(q, k, v, count);
    EXPECT_LT(relative_max_difference(got, want), 1.0 / 64) << valid << " valid keys";
  }
  // A group that does not fill the kernel's blocks of 8 queries.
  const at::Tensor q5 = at::randn({1, kv_heads, 5, dim}, bf16), count = at::full({1}, 1001, bf16.dtype(at::kLong));
  EXPECT_LT(relative_max_difference(decode_attention(q5, k, v, count), decode_attention_reference(q5, k, v, count)),
            1.0 / 64);
  // Slots past the count may hold anything, NaN included (a reused buffer): they are not read.
  const at::Tensor count700 = at::full({1}, 700, bf16.dtype(at::kLong));
  const at::Tensor clean = decode_attention(q, k, v, count700);
  k.narrow(2, 700, capacity - 700).fill_(NAN);
  v.narrow(2, 700, capacity - 700).fill_(NAN);
  const at::Tensor dirty = decode_attention(q, k, v, count700);
  EXPECT_TRUE(dirty.isfinite().all().item<bool>());
  EXPECT_TRUE(dirty.equal(clean));
}

}  // namespace
}  // namespace glmh
