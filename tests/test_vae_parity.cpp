// Parity of glmh's AutoencoderKL with diffusers 0.42.1 (golden from
// scripts/reference/make_vae_golden.py: GLM-Image's topology, small, random weights, a
// non-square latent): decode, encode's posterior mode, and the per-channel normalisation.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "tests/config_variant.h"
#include "tests/parity.h"
#include "pipeline/model/vae/autoencoder_kl.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

TEST(VaeParity, DecodeAndEncodeMatchDiffusers) {
  const AutoencoderKL vae = AutoencoderKL::load(ComponentCheckpoint::open(kGolden + "/vae_tiny"), c10::Device(c10::kCPU), at::kFloat);
  const auto io = SafetensorsFile::open(kGolden + "/vae_tiny_io.safetensors");
  testing::expect_parity(vae.decode(io->tensor("z")), io->tensor("decoded"), "decode");
  testing::expect_parity(vae.encode_mode(io->tensor("image")), io->tensor("mode"), "encode mode");
}

TEST(VaeParity, PerChannelNormalisationRoundTrips) {
  const AutoencoderKL vae = AutoencoderKL::load(ComponentCheckpoint::open(kGolden + "/vae_tiny"), c10::Device(c10::kCPU), at::kFloat);
  const at::Tensor latents = at::randn({1, 4, 3, 5});
  const at::Tensor z = vae.denormalize(latents);
  EXPECT_NEAR(z[0][1][0][0].item<float>(), latents[0][1][0][0].item<float>() * 0.5f - 0.2f, 1e-6);
  EXPECT_TRUE(at::allclose(vae.normalize(z), latents, 1e-5, 1e-6));
}

TEST(VaeConfig, RefusesWhatGlmImageDoesNotUse) {
  try {
    AutoencoderKLConfig::from_json(nlohmann::json{{"mid_block_add_attention", true}}, "vae/config.json");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'vae/config.json': mid_block_add_attention=true is not supported"), std::string::npos);
  }
  EXPECT_THROW(AutoencoderKLConfig::from_json(
                   nlohmann::json{{"mid_block_add_attention", false}, {"latent_channels", 16}, {"latents_mean", {1.0, 2.0}}}, "v"),
               CheckpointError);
}

TEST(VaeConfig, AnotherActFnIsFollowed) {
  testing::TempDir dir;
  const std::string relu = testing::component_with_config(dir, kGolden + "/vae_tiny", "relu",
                                                          [](nlohmann::json& c) { c["act_fn"] = "relu"; });
  const AutoencoderKL vae = AutoencoderKL::load(ComponentCheckpoint::open(relu), c10::Device(c10::kCPU), at::kFloat);
  const auto io = SafetensorsFile::open(kGolden + "/config_variants_io.safetensors");
  const at::Tensor out = vae.decode(io->tensor("vae_z"));
  testing::expect_parity(out, io->tensor("vae_decoded_relu"), "decode with act_fn relu");
  const at::Tensor silu = SafetensorsFile::open(kGolden + "/vae_tiny_io.safetensors")->tensor("decoded");
  EXPECT_GT((out - silu).abs().max().item<double>(), 1e-2);
}

TEST(VaeConfig, AConfigThatIsNotAnObjectIsRefused) {
  try {
    AutoencoderKLConfig::from_json(nlohmann::json::array({1, 2}), "vae/config.json");
    ADD_FAILURE() << "an array was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'vae/config.json': expected a JSON object, got array"), std::string::npos) << e.what();
  }
}

TEST(VaeConfig, ActFnAndBlockTypesGlmhCannotComputeAreRefused) {
  for (const auto& [field, value] : {std::pair<const char*, nlohmann::json>{"act_fn", "mish"},
                                     {"down_block_types", {"DownEncoderBlock2D", "AttnDownEncoderBlock2D"}},
                                     {"up_block_types", {"UpDecoderBlock2D", "AttnUpDecoderBlock2D"}},
                                     {"block_out_channels", {64, "128"}},
                                     {"block_out_channels", {64, 0}},
                                     {"block_out_channels", nlohmann::json::array()},
                                     {"latents_mean", {0.1, 0.2, "x", 0.4}},
                                     {"latents_std", {1.0}}}) {
    try {
      AutoencoderKLConfig::from_json(nlohmann::json{{"mid_block_add_attention", false}, {field, value}}, "vae/config.json");
      ADD_FAILURE() << field << " was accepted";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'vae/config.json': field '") + field + "'"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace glmh
