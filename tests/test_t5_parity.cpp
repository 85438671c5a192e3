// Parity of glmh's glyph encoder with transformers' T5EncoderModel (5.24.0, fp32 CPU): golden
// from scripts/reference/make_t5_golden.py with random weights, a padded batch, and 150 tokens so
// that relative distances reach the logarithmic buckets and the max-distance bucket.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "tests/parity.h"
#include "pipeline/model/glyph/t5_encoder.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

TEST(T5Parity, MatchesTransformers) {
  const T5Encoder t5 = T5Encoder::load(ComponentCheckpoint::open(kGolden + "/t5_tiny"), c10::Device(c10::kCPU), at::kFloat);
  const auto io = SafetensorsFile::open(kGolden + "/t5_tiny_io.safetensors");
  const at::Tensor mask = io->tensor("attention_mask");
  const at::Tensor out = t5.forward(io->tensor("input_ids"), mask);
  const at::Tensor ref = io->tensor("last_hidden_state");
  testing::expect_parity(out, ref, "last_hidden_state");
}

TEST(T5Config, AFeedForwardGlmhCannotComputeIsRefusedNamingTheField) {
  for (const char* proj : {"gated-mish", "swiglu", "gated-"}) {
    try {
      T5EncoderConfig::from_json({{"feed_forward_proj", proj}}, "text_encoder/config.json");
      ADD_FAILURE() << proj << " was accepted";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find("'text_encoder/config.json': field 'feed_forward_proj'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(T5Parity, TheCheckCatchesAMissingPositionBias) {
  const auto ckpt = ComponentCheckpoint::open(kGolden + "/t5_tiny");
  const auto config = T5EncoderConfig::from_json(ckpt.config(), "t5_tiny/config.json");
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : t5_encoder_parameter_shapes(config)) w[name] = ckpt.tensor(name, shape);
  w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] =
      at::zeros_like(w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]);
  const auto io = SafetensorsFile::open(kGolden + "/t5_tiny_io.safetensors");
  const at::Tensor out = T5Encoder::from_tensors(config, w).forward(io->tensor("input_ids"), io->tensor("attention_mask"));
  const at::Tensor ref = io->tensor("last_hidden_state");
  EXPECT_GT(((out - ref).abs().max() / ref.abs().max()).item<double>(), 1e-2);
}

TEST(T5RelativeBuckets, ExactNearLogarithmicFarClampedBeyondMaxDistance) {
  const at::Tensor b = t5_relative_position_buckets(1, 300, 32, 128);  // query 0, keys 0..299
  EXPECT_EQ(b[0][0].item<int64_t>(), 0);
  EXPECT_EQ(b[0][7].item<int64_t>(), 16 + 7);   // small distances are exact (positive side +16)
  EXPECT_EQ(b[0][8].item<int64_t>(), 16 + 8);   // first logarithmic bucket
  EXPECT_EQ(b[0][299].item<int64_t>(), 31);     // beyond max_distance: the last bucket
  const at::Tensor back = t5_relative_position_buckets(300, 1, 32, 128);  // key 0, queries 0..299
  EXPECT_EQ(back[5][0].item<int64_t>(), 5);     // negative side starts at 0
  EXPECT_EQ(back[299][0].item<int64_t>(), 15);
}

}  // namespace
}  // namespace glmh
