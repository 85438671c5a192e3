// Parity of glmh's AR decoder with transformers' GlmImageTextModel (5.24.0) + LM head: golden from
// scripts/reference/make_ar_text_golden.py, random weights, 3-D positions whose t, h and w rows
// differ (a grid after text), mrope_section [2, 1, 1] so every axis feeds some frequency.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
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

}  // namespace
}  // namespace glmh
