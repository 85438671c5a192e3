// The DiT's pieces that can be checked without the upstream reference: the rotary table and its
// application against their closed forms, the sinusoidal embedding, config parsing, and the
// forward pass's shapes and prior-drop semantics. Parity with diffusers' GlmImageTransformer2DModel
// comes from goldens produced by the reference (issue 3).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/kernels/head_norm_rotary.h"
#include "pipeline/model/dit/dit_forward_graph.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/model/dit/glm_image_dit.h"
#include "tests/one_rank_nccl_group.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

TEST(DiTRotary, TableHoldsRowAnglesThenColumnAngles) {
  const int64_t head_dim = 16, hp = 3, wp = 5;  // 8 angles: 4 row, 4 column
  const auto [cos, sin] = get_freqs_cis(hp, wp, head_dim);
  ASSERT_EQ(cos.sizes(), (std::vector<int64_t>{hp * wp, head_dim / 2}));
  for (int64_t r = 0; r < hp; ++r)
    for (int64_t c = 0; c < wp; ++c)
      for (int64_t j = 0; j < 4; ++j) {
        const double inv = std::pow(10000.0, -2.0 * j / 8.0);
        EXPECT_NEAR(cos[r * wp + c][j].item<float>(), std::cos(r * inv), 1e-6);
        EXPECT_NEAR(sin[r * wp + c][4 + j].item<float>(), std::sin(c * inv), 1e-6);
      }
}

TEST(DiTRotary, SplitHalfRotationMatchesTheDuplicatedTableForm) {
  // diffusers: out = x * cat(cos, cos) + cat(-x2, x1) * cat(sin, sin).
  const auto [cos, sin] = get_freqs_cis(2, 3, 8);
  const at::Tensor x = at::randn({2, 6, 3, 8});
  const at::Tensor cos2 = at::cat({cos, cos}, -1).unsqueeze(0).unsqueeze(2);
  const at::Tensor sin2 = at::cat({sin, sin}, -1).unsqueeze(0).unsqueeze(2);
  const at::Tensor rotated = at::cat({-x.narrow(-1, 4, 4), x.narrow(-1, 0, 4)}, -1);
  EXPECT_TRUE(at::allclose(apply_rotary_split_half(x, cos, sin), x * cos2 + rotated * sin2, 1e-6, 1e-6));
}

TEST(DiTEmbeddings, SinusoidIsCosThenSin) {
  const at::Tensor e = sinusoidal_embedding(at::tensor({0.0, 999.0}), 8);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 8}));
  for (int64_t i = 0; i < 4; ++i) {
    const double f = std::exp(-std::log(10000.0) * i / 4.0);
    EXPECT_NEAR(e[1][i].item<float>(), std::cos(999.0 * f), 1e-4);
    EXPECT_NEAR(e[1][4 + i].item<float>(), std::sin(999.0 * f), 1e-4);
  }
  EXPECT_FLOAT_EQ(e[0][0].item<float>(), 1.0f);
}

TEST(DiTConfig, UpstreamNamesDefaultsAndErrors) {
  const auto real = GlmImageDiTConfig::from_json(
      nlohmann::json{{"attention_head_dim", 128}, {"num_attention_heads", 32}}, "transformer/config.json");
  EXPECT_EQ(real.inner_dim(), 4096);
  EXPECT_EQ(real.num_layers, 30);  // class default
  EXPECT_EQ(GlmImageDiTConfig::from_json(nlohmann::json::object(), "x").inner_dim(), 2560);
  try {
    GlmImageDiTConfig::from_json(nlohmann::json{{"num_layers", "thirty"}}, "transformer/config.json");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'transformer/config.json': field 'num_layers' must be a positive integer"),
              std::string::npos)
        << e.what();
  }
}

GlmImageDiTConfig tiny() {
  GlmImageDiTConfig c;
  c.num_layers = 2;
  c.attention_head_dim = 8;
  c.num_attention_heads = 4;
  c.text_embed_dim = 24;
  c.time_embed_dim = 16;
  c.condition_dim = 8;
  c.prior_vq_quantizer_codebook_size = 64;
  return c;
}

GlmImageDiT random_dit(const GlmImageDiTConfig& c) {
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : dit_parameter_shapes(c)) w[name] = at::randn(shape) * 0.2;
  return GlmImageDiT::from_tensors(c, w);
}

DiTInputs inputs(const GlmImageDiTConfig& c, int64_t h, int64_t w) {
  DiTInputs in;
  in.latents = at::randn({1, c.in_channels, h, w});
  in.glyph_embeds = at::randn({1, 5, c.text_embed_dim});
  in.prior_token_id = at::randint(c.prior_vq_quantizer_codebook_size, {1, (h / 2) * (w / 2)}, at::kLong);
  in.prior_token_drop = at::zeros({1, (h / 2) * (w / 2)}, at::kBool);
  in.timestep = at::tensor({999.0});
  in.target_size = at::tensor({double(h * 8), double(w * 8)}).view({1, 2});
  in.crop_coords = at::zeros({1, 2});
  return in;
}

TEST(GlmImageDiT, ParameterTableMatchesTheCheckpointLayout) {
  GlmImageDiTConfig real;
  real.attention_head_dim = 128;
  real.num_attention_heads = 32;
  const auto shapes = dit_parameter_shapes(real);
  EXPECT_EQ(shapes.size(), 443u);  // 30 blocks x 14 + 23, as in transformer/*.index.json
  EXPECT_EQ(shapes.at("transformer_blocks.29.norm1.linear.weight"), (std::vector<int64_t>{49152, 512}));
  EXPECT_EQ(shapes.at("time_condition_embed.condition_embedder.linear_1.weight"), (std::vector<int64_t>{512, 1024}));
  EXPECT_EQ(shapes.at("proj_out.weight"), (std::vector<int64_t>{64, 4096}));
}

TEST(GlmImageDiT, ForwardGivesAVelocityOfTheLatentShapeOnNonSquareGrids) {
  at::manual_seed(3);
  const auto c = tiny();
  const GlmImageDiT dit = random_dit(c);
  const DiTInputs in = inputs(c, 6, 10);
  const at::Tensor v = dit.forward(in);
  EXPECT_EQ(v.sizes(), in.latents.sizes());
  EXPECT_TRUE(at::isfinite(v).all().item<bool>());
  EXPECT_TRUE(at::equal(v, dit.forward(in)));  // deterministic
}

TEST(GlmImageDiT, DroppedPriorsEqualAZeroPriorEmbedding) {
  at::manual_seed(4);
  const auto c = tiny();
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : dit_parameter_shapes(c)) w[name] = at::randn(shape) * 0.2;
  DiTInputs in = inputs(c, 4, 4);
  in.prior_token_drop = at::ones({1, 4}, at::kBool);
  const at::Tensor dropped = GlmImageDiT::from_tensors(c, w).forward(in);
  w["prior_token_embedding.weight"] = at::zeros_like(w["prior_token_embedding.weight"]);
  in.prior_token_drop = at::zeros({1, 4}, at::kBool);
  EXPECT_TRUE(at::allclose(dropped, GlmImageDiT::from_tensors(c, w).forward(in), 1e-5, 1e-6));
  // A per-sample [B] mask means the same as an all-true [B, N] mask.
  in.prior_token_drop = at::ones({1}, at::kBool);
  w["prior_token_embedding.weight"] = at::randn({64, c.inner_dim()});
  const at::Tensor per_sample = GlmImageDiT::from_tensors(c, w).forward(in);
  in.prior_token_drop = at::ones({1, 4}, at::kBool);
  EXPECT_TRUE(at::allclose(per_sample, GlmImageDiT::from_tensors(c, w).forward(in)));
}

TEST(GlmImageDiT, TheRotaryTableCanBePassedIn) {
  at::manual_seed(5);
  const auto c = tiny();
  const GlmImageDiT dit = random_dit(c);
  DiTInputs in = inputs(c, 4, 6);
  const at::Tensor implicit = dit.forward(in);
  std::tie(in.rotary_cos, in.rotary_sin) = get_freqs_cis(2, 3, c.attention_head_dim);
  EXPECT_TRUE(at::equal(implicit, dit.forward(in)));
  in.rotary_sin = at::zeros_like(in.rotary_sin);  // a wrong table must change the result
  EXPECT_FALSE(at::allclose(implicit, dit.forward(in)));
}

TEST(DitForwardGraph, IsRefusedOffACudaDevice) {
  at::manual_seed(20);
  const auto c = tiny();
  const GlmImageDiT dit = random_dit(c);
  const DiTInputs in = inputs(c, 4, 4);
  EXPECT_FALSE(DitForwardGraph::supports(in, in.latents.device()));
  DitForwardGraph graph;
  EXPECT_THROW(graph.forward(dit, in), std::logic_error);
}

// The denoising loop's use: the same conditioning every step, new latents and timestep. Each
// replay must give what the eager forward gives for that step's inputs, bit for bit.
void expect_replays_give_the_eager_forward(const GlmImageDiT& dit, const GlmImageDiTConfig& c, DiTInputs in) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(at::kCUDA);
  ASSERT_TRUE(DitForwardGraph::supports(in, f32.device()));
  DitForwardGraph graph;
  for (int step = 0; step < 4; ++step) {  // eager, capture, two replays
    in.latents = at::randn({1, c.in_channels, 4, 6}, f32);
    in.timestep = at::full({1}, 900.0 - 100.0 * step, f32);
    const at::Tensor got = graph.forward(dit, in);
    EXPECT_TRUE(got.equal(dit.forward(in))) << "step " << step;
  }
  DiTInputs other = in;
  other.glyph_embeds = in.glyph_embeds.clone();
  EXPECT_THROW(graph.forward(dit, other), std::logic_error);
}

// A tiny DiT and its inputs on the GPU, the rotary rows given.
std::pair<GlmImageDiT, DiTInputs> tiny_dit_on_gpu(const GlmImageDiTConfig& c) {
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : dit_parameter_shapes(c)) w[name] = (at::randn(shape) * 0.2).to(at::kCUDA);
  DiTInputs in = inputs(c, 4, 6);
  for (at::Tensor* t : {&in.glyph_embeds, &in.prior_token_id, &in.prior_token_drop, &in.target_size, &in.crop_coords})
    *t = t->to(at::kCUDA);
  std::tie(in.rotary_cos, in.rotary_sin) = get_freqs_cis(2, 3, c.attention_head_dim);
  in.rotary_cos = in.rotary_cos.to(at::kCUDA);
  in.rotary_sin = in.rotary_sin.to(at::kCUDA);
  return {GlmImageDiT::from_tensors(c, w), in};
}

TEST(DitForwardGraph, ReplaysGiveTheEagerForwardOfEachStepsLatentsAndTimestep) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(21);
  const auto c = tiny();
  auto [dit, in] = tiny_dit_on_gpu(c);
  // Without the rotary rows the forward would build them on the host: not capturable.
  DiTInputs no_rotary = in;
  no_rotary.rotary_cos = no_rotary.rotary_sin = at::Tensor();
  EXPECT_FALSE(DitForwardGraph::supports(no_rotary, c10::Device(c10::kCUDA)));
  // "cuda" without an index is the current device, as `--device cuda` gives it.
  EXPECT_TRUE(DitForwardGraph::supports(in, c10::Device(c10::kCUDA)));
  expect_replays_give_the_eager_forward(dit, c, in);
}

// A TP group on NCCL does not keep the forward out of the graph. (A one-rank shard skips its
// all-reduces; test_collectives replays captured NCCL collectives, the 2-GPU runs the TP forward.)
TEST(DitForwardGraph, IsCapturedWithATensorParallelGroupOnNccl) {
  testing::TempDir dir;
  const auto tp = testing::one_rank_nccl_group(dir.path(), "dit.tp");
  if (!tp) GTEST_SKIP() << "no NCCL or no CUDA device";
  at::manual_seed(22);
  const auto c = tiny();
  auto [dit, in] = tiny_dit_on_gpu(c);
  DitParallelism parallel;
  parallel.tp = tp.get();
  in.parallel = &parallel;
  expect_replays_give_the_eager_forward(dit.shard_for_tp(0, 1), c, in);
}

}  // namespace
}  // namespace glmh
