// Parity of glmh's DiT with diffusers' GlmImageTransformer2DModel: the golden in
// golden/reference/ was produced by scripts/reference/make_dit_golden.py (diffusers 0.42.1,
// torch 2.15.0, fp32 CPU, random weights, a non-square 3 x 5 patch grid). The component loads
// through the same checkpoint reader as a real one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>


#include "pipeline/checkpoint/component_checkpoint.h"
#include "parity.h"
#include "pipeline/model/dit/glm_image_dit.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

double relative_error(const at::Tensor& out, const at::Tensor& ref) {
  return ((out - ref).abs().max() / ref.abs().max()).item<double>();
}

struct Golden {
  GlmImageDiT dit = GlmImageDiT::load(ComponentCheckpoint::open(kGolden + "/dit_tiny"), c10::Device(c10::kCPU), at::kFloat);
  std::shared_ptr<SafetensorsFile> io = SafetensorsFile::open(kGolden + "/dit_tiny_io.safetensors");
  DiTInputs inputs() const {
    DiTInputs in;
    in.latents = io->tensor("latents");
    in.glyph_embeds = io->tensor("glyph_embeds");
    in.prior_token_id = io->tensor("prior_token_id");
    in.prior_token_drop = io->tensor("prior_token_drop");
    in.timestep = io->tensor("timestep");
    in.target_size = io->tensor("target_size");
    in.crop_coords = io->tensor("crop_coords");
    return in;
  }
};

TEST(DiTParity, MatchesDiffusersInFp32) {
  const Golden g;
  testing::expect_parity(g.dit.forward(g.inputs()), g.io->tensor("velocity"), "velocity");
}

TEST(DiTParity, MatchesDiffusersWithEveryPriorDropped) {
  const Golden g;
  DiTInputs in = g.inputs();
  in.prior_token_drop = at::ones_like(in.prior_token_drop);
  testing::expect_parity(g.dit.forward(in), g.io->tensor("velocity_dropped"), "velocity_dropped");
}

TEST(DiTParity, TheCheckCatchesAWrongModulationOrder) {
  // Swapping two of the 12 AdaLN chunks (shift_msa <-> c_shift_msa) must break parity: the
  // tolerance is tight enough to see a real mistake.
  const Golden g;
  auto ckpt = ComponentCheckpoint::open(kGolden + "/dit_tiny");
  std::map<std::string, at::Tensor> w;
  for (const auto& [name, shape] : dit_parameter_shapes(g.dit.config())) w[name] = ckpt.tensor(name, shape).clone();
  at::Tensor& lin = w["transformer_blocks.0.norm1.linear.weight"];
  const int64_t d = g.dit.config().inner_dim();
  const at::Tensor first = lin.narrow(0, 0, d).clone();
  lin.narrow(0, 0, d).copy_(lin.narrow(0, d, d));
  lin.narrow(0, d, d).copy_(first);
  const double err = relative_error(GlmImageDiT::from_tensors(g.dit.config(), w).forward(g.inputs()), g.io->tensor("velocity"));
  EXPECT_GT(err, 1e-2) << err;
}

}  // namespace
}  // namespace glmh
