// glmh forward, the program: each component's outputs from upstream-named inputs equal the
// upstream goldens; a pipeline root resolves to the component's folder; bad input is one line,
// exit 2.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/parity.h"
#include "pipeline/checkpoint/safetensors.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

class ForwardCommand : public ::testing::Test {
 protected:
  // Writes `inputs`, runs glmh forward, and returns the output file's tensor `name`.
  at::Tensor run(const std::string& checkpoint, const std::string& component,
                 const std::map<std::string, at::Tensor>& inputs, const std::string& name) {
    const std::string in = dir_.path() + "/in.safetensors", out = dir_.path() + "/out.safetensors";
    write_safetensors(in, inputs);
    const auto r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", checkpoint, "--component", component,
                                         "--inputs", in, "--out", out});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return SafetensorsFile::open(out)->tensor(name).clone();
  }
  testing::TempDir dir_;
};

TEST_F(ForwardCommand, EveryComponentMatchesItsGolden) {
  {
    const auto io = SafetensorsFile::open(kGolden + "/dit_tiny_io.safetensors");
    const at::Tensor out = run(kGolden + "/dit_tiny", "dit",
                               {{"hidden_states", io->tensor("latents")}, {"encoder_hidden_states", io->tensor("glyph_embeds")},
                                {"prior_token_id", io->tensor("prior_token_id")}, {"prior_token_drop", io->tensor("prior_token_drop")},
                                {"timestep", io->tensor("timesteps").narrow(0, 1, 1).contiguous()}, {"target_size", io->tensor("target_size")},
                                {"crop_coords", io->tensor("crop_coords")}},
                               "sample");
    testing::expect_parity(out, io->tensor("velocity_1"), "dit sample");
  }
  {
    const auto io = SafetensorsFile::open(kGolden + "/t5_tiny_io.safetensors");
    const at::Tensor out = run(kGolden + "/t5_tiny", "glyph",
                               {{"input_ids", io->tensor("input_ids")}, {"attention_mask", io->tensor("attention_mask")}},
                               "last_hidden_state");
    testing::expect_parity(out, io->tensor("last_hidden_state"), "glyph last_hidden_state");
  }
  {
    const auto io = SafetensorsFile::open(kGolden + "/vae_tiny_io.safetensors");
    testing::expect_parity(run(kGolden + "/vae_tiny", "vae-decode", {{"latents", io->tensor("z")}}, "sample"),
                           io->tensor("decoded"), "vae-decode sample");
    testing::expect_parity(run(kGolden + "/vae_tiny", "vae-encode", {{"sample", io->tensor("image")}}, "latent_mean"),
                           io->tensor("mode"), "vae-encode latent_mean");
  }
  {
    const auto io = SafetensorsFile::open(kGolden + "/ar_tiny_io.safetensors");
    const at::Tensor out = run(kGolden + "/ar_tiny", "ar",
                               {{"input_ids", io->tensor("input_ids")}, {"position_ids", io->tensor("position_ids")}},
                               "logits");
    testing::expect_parity(out, io->tensor("logits"), "ar logits");
  }
}

TEST_F(ForwardCommand, ArPositionsFromImageGridThwEqualExplicitOnes) {
  // The golden's input_ids hold no image markers: get_rope_index then gives plain text positions,
  // so the logits must equal those with explicit 1-D positions (the builder itself is checked
  // against upstream in test_ar_positions).
  const auto io = SafetensorsFile::open(kGolden + "/ar_tiny_io.safetensors");
  at::Tensor ids = io->tensor("input_ids").clone();
  const at::Tensor text_pos = at::arange(ids.size(1), at::kLong).view({1, 1, -1}).expand({3, 1, ids.size(1)}).contiguous();
  const at::Tensor with_grid = run(kGolden + "/ar_tiny", "ar", {{"input_ids", ids}, {"image_grid_thw", at::tensor({1, 2, 3}, at::kLong).view({1, 3})}}, "logits");
  const at::Tensor explicit_pos = run(kGolden + "/ar_tiny", "ar", {{"input_ids", ids}, {"position_ids", text_pos}}, "logits");
  EXPECT_TRUE(at::equal(with_grid, explicit_pos));
}

TEST_F(ForwardCommand, ArTakesThePositionShapesUpstreamTakes) {
  // [batch, seq] (one position for every rotary axis), [3, batch, seq], and [4, batch, seq] with a
  // plain text row first; other shapes are refused with one line naming the tensor.
  const auto io = SafetensorsFile::open(kGolden + "/config_variants_io.safetensors");
  const at::Tensor ids = io->tensor("ar_input_ids"), flat = io->tensor("ar_position_ids_2d");
  const at::Tensor two_d = run(kGolden + "/ar_tiny", "ar", {{"input_ids", ids}, {"position_ids", flat}}, "logits");
  testing::expect_parity(two_d, io->tensor("ar_logits_2d_positions"), "ar logits from 2-D position_ids");
  const at::Tensor grid = io->tensor("ar_position_ids");
  const at::Tensor four = at::cat({flat.unsqueeze(0), grid}, 0);
  const at::Tensor four_rows = run(kGolden + "/ar_tiny", "ar", {{"input_ids", ids}, {"position_ids", four}}, "logits");
  EXPECT_TRUE(at::equal(four_rows, run(kGolden + "/ar_tiny", "ar", {{"input_ids", ids}, {"position_ids", grid}}, "logits")));

  const std::string in = dir_.path() + "/bad.safetensors";
  for (const at::Tensor& bad : {grid.narrow(0, 0, 2).contiguous(), flat.narrow(1, 0, 5).contiguous(),
                                at::cat({flat.unsqueeze(0) * 0, grid}, 0)}) {
    write_safetensors(in, {{"input_ids", ids}, {"position_ids", bad}});
    const auto r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", kGolden + "/ar_tiny", "--component", "ar",
                                         "--inputs", in, "--out", dir_.path() + "/never.safetensors"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("tensor 'position_ids'"), std::string::npos) << r.output;
  }
}

TEST_F(ForwardCommand, VisionGivesFeaturesAndIntegerIds) {
  const auto io = SafetensorsFile::open(kGolden + "/vision_tiny_io.safetensors");
  const at::Tensor features = run(kGolden + "/vision_tiny", "vision",
                                  {{"pixel_values", io->tensor("pixel_values")}, {"image_grid_thw", io->tensor("image_grid_thw")}},
                                  "image_features");
  testing::expect_parity(features, io->tensor("image_features"), "vision image_features");
  const at::Tensor ids = SafetensorsFile::open(dir_.path() + "/out.safetensors")->tensor("vq_ids");
  EXPECT_EQ(ids.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(ids, io->tensor("vq_ids")));
  // Grids that do not cover pixel_values: one line, exit 2.
  const std::string in = dir_.path() + "/bad.safetensors";
  write_safetensors(in, {{"pixel_values", io->tensor("pixel_values")}, {"image_grid_thw", at::tensor({1, 2, 2}, at::kLong).view({1, 3})}});
  const auto r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", kGolden + "/vision_tiny", "--component", "vision",
                                       "--inputs", in, "--out", dir_.path() + "/bad_out.safetensors"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the grids hold 4 patches, pixel_values has 43 rows"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST_F(ForwardCommand, APipelineRootResolvesToTheComponentFolder) {
  const std::string root = dir_.path() + "/pipeline";
  posix_fs::make_directories(root);
  std::ofstream(root + "/model_index.json") << R"({"_class_name": "GlmImagePipeline", "vae": ["diffusers", "AutoencoderKL"]})";
  ASSERT_EQ(::symlink((kGolden + "/vae_tiny").c_str(), (root + "/vae").c_str()), 0);
  const auto io = SafetensorsFile::open(kGolden + "/vae_tiny_io.safetensors");
  testing::expect_parity(run(root, "vae-decode", {{"latents", io->tensor("z")}}, "sample"), io->tensor("decoded"), "root vae");
}

TEST_F(ForwardCommand, BadInputIsOneLineAndExitTwo) {
  const std::string in = dir_.path() + "/in.safetensors", out = dir_.path() + "/out.safetensors";
  write_safetensors(in, {{"latents", at::zeros({1, 4, 3, 5})}});
  auto r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", kGolden + "/dit_tiny", "--component", "dit",
                                 "--inputs", in, "--out", out});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("in.safetensors': missing tensor 'hidden_states' for component 'dit'"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_FALSE(posix_fs::exists(out));
  r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", kGolden + "/dit_tiny", "--component", "unet",
                            "--inputs", in, "--out", out});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown component 'unet'"), std::string::npos) << r.output;
  r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", dir_.path() + "/nothing", "--component", "dit",
                            "--inputs", in, "--out", out});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is not a directory"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace glmh
