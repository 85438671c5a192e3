// Parity of glmh's AR decoder with transformers' GlmImageTextModel (5.24.0) + LM head: golden from
// scripts/reference/make_ar_text_golden.py, random weights, 3-D positions whose t, h and w rows
// differ (a grid after text), mrope_section [2, 1, 1] so every axis feeds some frequency.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "tests/config_variant.h"
#include "tests/parity.h"
#include "pipeline/model/ar/glm_image_text_model.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

TEST(ArTextParity, LogitsMatchTransformers) {
  const auto model = GlmImageTextModel::load(ComponentCheckpoint::open(kGolden + "/ar_tiny"), c10::Device(c10::kCPU), at::kFloat);
  const auto io = SafetensorsFile::open(kGolden + "/ar_tiny_io.safetensors");
  const at::Tensor ref = io->tensor("logits");
  const at::Tensor out = model.forward(io->tensor("input_ids"), io->tensor("position_ids"));
  testing::expect_parity(out, ref, "logits");
}

TEST(ArTextParity, TheCheckCatchesPositionsOnTheWrongAxis) {
  // Feeding 1-D positions (t for every axis) must change the logits of the grid tokens.
  const auto model = GlmImageTextModel::load(ComponentCheckpoint::open(kGolden + "/ar_tiny"), c10::Device(c10::kCPU), at::kFloat);
  const auto io = SafetensorsFile::open(kGolden + "/ar_tiny_io.safetensors");
  const at::Tensor pos = io->tensor("position_ids");
  const at::Tensor flat = pos[0].unsqueeze(0).expand_as(pos).contiguous();
  const at::Tensor ref = io->tensor("logits");
  const at::Tensor out = model.forward(io->tensor("input_ids"), flat);
  EXPECT_GT(((out - ref).abs().max() / ref.abs().max()).item<double>(), 1e-3);  // 10x the parity tolerance
}

// Config fields GLM-Image does not use but the format allows are followed or refused
// (make_config_variants_golden.py: the same weights under transformers with another config).
TEST(ArConfigFields, AnotherHiddenActIsFollowed) {
  testing::TempDir dir;
  const std::string gelu = testing::component_with_config(dir, kGolden + "/ar_tiny", "gelu",
                                                          [](nlohmann::json& c) { c["text_config"]["hidden_act"] = "gelu"; });
  const auto model = GlmImageTextModel::load(ComponentCheckpoint::open(gelu), c10::Device(c10::kCPU), at::kFloat);
  const auto io = SafetensorsFile::open(kGolden + "/config_variants_io.safetensors");
  const at::Tensor out = model.forward(io->tensor("ar_input_ids"), io->tensor("ar_position_ids"));
  testing::expect_parity(out, io->tensor("ar_logits_gelu"), "logits with hidden_act gelu");
  // What glmh computed before it read the field (SiLU) is far from it.
  const at::Tensor silu = SafetensorsFile::open(kGolden + "/ar_tiny_io.safetensors")->tensor("logits");
  EXPECT_GT((out - silu).abs().max().item<double>(), 1e-2);
}

TEST(ArConfigFields, AValueGlmhCannotComputeIsRefusedNamingTheFileAndField) {
  testing::TempDir dir;
  const std::pair<const char*, nlohmann::json> cases[] = {{"hidden_act", "mish"}, {"tie_word_embeddings", true},
                                                           {"rope_parameters", {{"mrope_section", "8,12,12"}}},
                                                           {"rope_parameters", {{"partial_rotary_factor", 1e300}}},
                                                           {"rope_parameters", {{"rope_theta", -1}}}};
  for (const auto& [field, value] : cases) {
    const std::string ckpt = testing::component_with_config(
        dir, kGolden + "/ar_tiny", field, [&, f = std::string(field)](nlohmann::json& c) { c["text_config"][f] = value; });
    try {
      GlmImageTextModel::load(ComponentCheckpoint::open(ckpt), c10::Device(c10::kCPU), at::kFloat);
      ADD_FAILURE() << field << " = " << value.dump() << " was accepted";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(ckpt + "/config.json"), std::string::npos) << e.what();
      const std::string named = value.is_object() ? value.begin().key() : field;  // rope_parameters' own field
      EXPECT_NE(std::string(e.what()).find("'" + named + "'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace glmh
