// Parity of glmh's image-to-image front end with transformers 5.24.0 (goldens from
// scripts/reference/make_vision_golden.py): the ViT features and VQ ids of two images with
// different non-square grids (one below the 6 x 6 position table, one above it in one axis),
// the image processor's smart_resize and pixel values, and that each check fails on a known-wrong
// variant.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>

#include "tests/parity.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/ar/glm_image_image_processor.h"
#include "pipeline/model/ar/glm_image_vision.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";
const c10::Device kCpu(c10::kCPU);

GlmImageVisionEncoder tiny_encoder() {
  return GlmImageVisionEncoder::load(ComponentCheckpoint::open(kGolden + "/vision_tiny"), kCpu, at::kFloat);
}

std::vector<GridThw> grids_of(const at::Tensor& thw) {
  std::vector<GridThw> grids;
  for (int64_t i = 0; i < thw.size(0); ++i)
    grids.push_back({thw[i][0].item<int64_t>(), thw[i][1].item<int64_t>(), thw[i][2].item<int64_t>()});
  return grids;
}

double relative_error(const at::Tensor& out, const at::Tensor& ref) {
  return testing::parity_figures(out, ref).relative_max_error;
}

// A wrong variant must miss the parity bound by 10x or more; its error is recorded.
void expect_caught(const at::Tensor& out, const at::Tensor& ref, const std::string& what) {
  const double error = relative_error(out, ref);
  EXPECT_GT(error, 1e-3) << what;
  ::testing::Test::RecordProperty(what + ".relative_max_error", std::to_string(error));
}

// The CheckpointError `f` throws; fails the test when it throws none.
std::string checkpoint_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CheckpointError";
  return "";
}

TEST(VisionParity, FeaturesAndIdsMatchTransformers) {
  const auto encoder = tiny_encoder();
  const auto io = SafetensorsFile::open(kGolden + "/vision_tiny_io.safetensors");
  const VisionOutput out = encoder.encode(io->tensor("pixel_values"), grids_of(io->tensor("image_grid_thw")));
  testing::expect_parity(out.image_features, io->tensor("image_features"), "image_features");
  ASSERT_EQ(out.vq_ids.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(out.vq_ids, io->tensor("vq_ids"))) << out.vq_ids << io->tensor("vq_ids");
}

TEST(VisionParity, Bf16StaysCloseToTheFp32Golden) {
  // The real model runs bf16; VQ then works on bf16 distances as upstream's does, so ids near a
  // tie may pick another code (the golden's best-vs-second margin is only 2e-3).
  const auto encoder = GlmImageVisionEncoder::load(ComponentCheckpoint::open(kGolden + "/vision_tiny"), kCpu, at::kBFloat16);
  const auto io = SafetensorsFile::open(kGolden + "/vision_tiny_io.safetensors");
  const VisionOutput out = encoder.encode(io->tensor("pixel_values"), grids_of(io->tensor("image_grid_thw")));
  EXPECT_EQ(out.image_features.scalar_type(), at::kBFloat16);
  const testing::ParityFigures f = testing::parity_figures(out.image_features, io->tensor("image_features"));
  EXPECT_GE(f.cosine, 0.999);
  const double same_ids = out.vq_ids.eq(io->tensor("vq_ids")).to(at::kDouble).mean().item<double>();
  EXPECT_GE(same_ids, 0.5);
  ::testing::Test::RecordProperty("bf16.cosine", std::to_string(f.cosine));
  ::testing::Test::RecordProperty("bf16.relative_max_error", std::to_string(f.relative_max_error));
  ::testing::Test::RecordProperty("bf16.same_vq_ids", std::to_string(same_ids));
}

TEST(VisionParity, EachImageIsEncodedOnItsOwn) {
  // Encoding the images one at a time gives the rows of encoding them together.
  const auto encoder = tiny_encoder();
  const auto io = SafetensorsFile::open(kGolden + "/vision_tiny_io.safetensors");
  const at::Tensor pv = io->tensor("pixel_values");
  const auto grids = grids_of(io->tensor("image_grid_thw"));
  const int64_t first = grids[0][1] * grids[0][2];
  const VisionOutput a = encoder.encode(pv.narrow(0, 0, first), {grids[0]});
  const VisionOutput b = encoder.encode(pv.narrow(0, first, pv.size(0) - first), {grids[1]});
  testing::expect_parity(at::cat({a.image_features, b.image_features}), io->tensor("image_features"), "one by one");
  EXPECT_TRUE(at::equal(at::cat({a.vq_ids, b.vq_ids}), io->tensor("vq_ids")));
  // Two images of one grid go through attention as one batch: still each on its own.
  const at::Tensor pv_b = pv.narrow(0, first, pv.size(0) - first);
  const VisionOutput twice = encoder.encode(at::cat({pv_b, pv_b}), {grids[1], grids[1]});
  const int64_t n_b = pv_b.size(0);
  testing::expect_parity(twice.image_features.narrow(0, 0, n_b), b.image_features, "batched, first");
  testing::expect_parity(twice.image_features.narrow(0, n_b, n_b), b.image_features, "batched, second");
}

TEST(VisionParity, TheCheckCatchesWrongVariants) {
  const auto encoder = tiny_encoder();
  const auto io = SafetensorsFile::open(kGolden + "/vision_tiny_io.safetensors");
  const at::Tensor pv = io->tensor("pixel_values"), ref = io->tensor("image_features");
  const auto grids = grids_of(io->tensor("image_grid_thw"));
  const std::vector<int64_t> lengths = {grids[0][1] * grids[0][2], grids[1][1] * grids[1][2]};
  const at::Tensor patches = encoder.patch_embeddings(pv);
  const at::Tensor positions = at::cat({encoder.position_embeddings(grids[0]), encoder.position_embeddings(grids[1])});
  // The right composition passes (so the variants below differ only in what they get wrong).
  EXPECT_LE(relative_error(encoder.transformer(patches + positions, lengths), ref), 1e-4);
  expect_caught(encoder.transformer(patches, lengths), ref, "no_position_embedding");
  expect_caught(encoder.transformer(patches + positions, {pv.size(0)}), ref, "attention_across_images");
  const std::vector<GridThw> transposed = {{1, grids[0][2], grids[0][1]}, {1, grids[1][2], grids[1][1]}};
  expect_caught(encoder.encode(pv, transposed).image_features, ref, "grid_h_w_swapped");
  // The table read at the first rows instead of resampled to the grid.
  const at::Tensor table = ComponentCheckpoint::open(kGolden + "/vision_tiny")
                               .tensor("model.visual.embeddings.position_embedding.weight", {36, 48});
  const at::Tensor unresampled = at::cat({table.narrow(0, 0, lengths[0]), table.narrow(0, 0, lengths[1])});
  expect_caught(encoder.transformer(patches + unresampled, lengths), ref, "table_not_resampled");
  // VQ without the L2 normalisation picks other codes for part of the tokens.
  const auto ckpt = ComponentCheckpoint::open(kGolden + "/vision_tiny");
  const at::Tensor latent = at::linear(ref, ckpt.tensor("model.vqmodel.quant_conv.weight", {24, 48, 1, 1}).view({24, 48}),
                                       ckpt.tensor("model.vqmodel.quant_conv.bias", {24}));
  const at::Tensor raw_ids = at::cdist(latent, ckpt.tensor("model.vqmodel.quantize.embedding.weight", {40, 24})).argmin(1);
  const int64_t other_codes = raw_ids.ne(io->tensor("vq_ids")).sum().item<int64_t>();
  EXPECT_GT(other_codes, 3) << "VQ without normalisation";
  ::testing::Test::RecordProperty("vq_without_normalisation.other_codes", std::to_string(other_codes));
  EXPECT_TRUE(at::equal(encoder.quantize(ref), io->tensor("vq_ids")));
}

TEST(VisionParity, BadInputIsRefused) {
  const auto encoder = tiny_encoder();
  const at::Tensor pv = at::zeros({6, 192});
  EXPECT_THROW(encoder.encode(pv, {{1, 2, 2}}), std::invalid_argument);   // 4 patches, 6 rows
  EXPECT_THROW(encoder.encode(pv, {{2, 1, 3}}), std::invalid_argument);   // t = 2
  EXPECT_THROW(encoder.encode(at::zeros({6, 48}), {{1, 2, 3}}), std::invalid_argument);  // patch 4 rows
  EXPECT_NO_THROW(encoder.encode(pv, {{1, 2, 3}}));
  EXPECT_THROW(encoder.transformer(at::zeros({6, 48}), {4, 1}), std::invalid_argument);
}

TEST(VisionCheckpoint, OnlyWhatInferenceUsesIsNeeded) {
  // post_quant_conv is in the golden (upstream keeps it) but is not read; a missing ViT tensor
  // or a wrongly shaped one is one line naming the tensor and where it was looked for.
  testing::TempDir dir;
  const auto file = SafetensorsFile::open(kGolden + "/vision_tiny/model.safetensors");
  const nlohmann::json config = read_json_file(kGolden + "/vision_tiny/config.json");
  auto write_without = [&](const std::string& sub, const std::string& drop, const std::string& reshape) {
    std::map<std::string, at::Tensor> tensors;
    for (const auto& name : file->names())
      if (name != drop) tensors[name] = name == reshape ? file->tensor(name).narrow(0, 0, 1) : file->tensor(name);
    write_component(dir.path() + "/" + sub, config, tensors, "model");
    return dir.path() + "/" + sub;
  };
  const std::string lean = write_without("lean", "model.vqmodel.post_quant_conv.weight", "");
  EXPECT_NO_THROW(GlmImageVisionEncoder::load(ComponentCheckpoint::open(lean), kCpu, at::kFloat));

  const std::string missing = write_without("missing", "model.visual.blocks.1.attn.qkv.weight", "");
  const std::string e1 = checkpoint_error([&] { GlmImageVisionEncoder::load(ComponentCheckpoint::open(missing), kCpu, at::kFloat); });
  EXPECT_NE(e1.find("'" + missing + "': missing tensor 'model.visual.blocks.1.attn.qkv.weight' (expected [144, 48])"),
            std::string::npos) << e1;
  EXPECT_EQ(e1.find('\n'), std::string::npos);

  const std::string bad_shape = write_without("shape", "", "model.vqmodel.quantize.embedding.weight");
  const std::string e2 = checkpoint_error([&] { GlmImageVisionEncoder::load(ComponentCheckpoint::open(bad_shape), kCpu, at::kFloat); });
  EXPECT_NE(e2.find(bad_shape + "/model.safetensors': tensor 'model.vqmodel.quantize.embedding.weight' has shape [1, 24], "
                    "expected [40, 24]"), std::string::npos) << e2;
  EXPECT_EQ(e2.find('\n'), std::string::npos);
}

TEST(VisionConfig, ReadsUpstreamNamesAndRefusesWhatItCannotRun) {
  const GlmImageVisionConfig defaults = GlmImageVisionConfig::from_json(nlohmann::json::object(), "c");
  EXPECT_EQ(defaults.depth, 40);
  EXPECT_EQ(defaults.head_dim(), 96);
  EXPECT_EQ(defaults.position_side(), 128);
  EXPECT_EQ(GlmImageVQConfig::from_json(nlohmann::json::object(), "c").num_embeddings, 16384);
  const auto tiny = GlmImageVisionConfig::from_json(read_json_file(kGolden + "/vision_tiny/config.json"), "c");
  EXPECT_EQ(tiny.num_heads, 3);
  EXPECT_EQ(tiny.position_side(), 6);
  const auto shapes = glm_image_vision_parameter_shapes(GlmImageVisionConfig{}, GlmImageVQConfig{});
  EXPECT_EQ(shapes.at("model.visual.embeddings.position_embedding.weight"), (std::vector<int64_t>{16384, 1536}));
  EXPECT_EQ(shapes.at("model.vqmodel.quant_conv.weight"), (std::vector<int64_t>{2048, 1536, 1, 1}));
  EXPECT_EQ(shapes.count("model.vqmodel.post_quant_conv.weight"), 0u);
  EXPECT_EQ(shapes.size(), 3u + 40 * 12 + 3);

  const std::string e1 = checkpoint_error(
      [] { GlmImageVisionConfig::from_json({{"vision_config", {{"hidden_act", "gelu_new"}}}}, "vle/config.json"); });
  EXPECT_NE(e1.find("'vle/config.json (vision_config)': hidden_act 'gelu_new' is not supported (gelu)"), std::string::npos) << e1;
  const std::string e2 = checkpoint_error(
      [] { GlmImageVisionConfig::from_json({{"vision_config", {{"hidden_size", 48}, {"num_heads", 5}}}}, "c"); });
  EXPECT_NE(e2.find("hidden_size 48 is not a multiple of num_heads 5"), std::string::npos) << e2;
  const std::string e3 = checkpoint_error(
      [] { GlmImageVisionConfig::from_json({{"vision_config", {{"spatial_merge_size", 2}}}}, "c"); });
  EXPECT_NE(e3.find("spatial_merge_size 2 is not supported (1)"), std::string::npos) << e3;

  // latent_channels must be the ViT width.
  testing::TempDir dir;
  nlohmann::json config = read_json_file(kGolden + "/vision_tiny/config.json");
  config["vq_config"]["latent_channels"] = 64;
  write_component(dir.path() + "/vle", config, {{"x", at::zeros({1})}}, "model");
  const std::string e4 = checkpoint_error([&] { GlmImageVisionEncoder::load(ComponentCheckpoint::open(dir.path() + "/vle"), kCpu, at::kFloat); });
  EXPECT_NE(e4.find("vq_config.latent_channels 64 must equal vision_config.hidden_size 48"), std::string::npos) << e4;
}

// --- image processor -------------------------------------------------------------------------

TEST(ImageProcessor, SmartResizeMatchesTransformers) {
  const auto cases = read_json_file(kGolden + "/vision_processor/smart_resize_cases.json")["cases"];
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    const int64_t h = c["height"], w = c["width"], factor = c["factor"], lo = c["min_pixels"], hi = c["max_pixels"];
    const std::string what = std::to_string(h) + "x" + std::to_string(w) + " factor " + std::to_string(factor);
    if (c.contains("error")) {
      try {
        glm_image_smart_resize(h, w, factor, lo, hi);
        ADD_FAILURE() << what << ": no error";
      } catch (const std::invalid_argument& e) {
        const std::string expected = c["error"] == "aspect ratio" ? "aspect ratio above 4" : "smaller than the factor";
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << what << ": " << e.what();
      }
      continue;
    }
    const auto [rh, rw] = glm_image_smart_resize(h, w, factor, lo, hi);
    EXPECT_EQ(rh, c["expected"][0].get<int64_t>()) << what;
    EXPECT_EQ(rw, c["expected"][1].get<int64_t>()) << what;
  }
}

TEST(ImageProcessor, PixelValuesMatchTheTorchvisionBackend) {
  const auto config = GlmImageProcessorConfig::from_file(kGolden + "/vision_processor/preprocessor_config.json");
  const auto io = SafetensorsFile::open(kGolden + "/vision_processor_io.safetensors");
  for (const std::string key : {"small", "mid", "large"}) {
    const ProcessedImage out = glm_image_preprocess(io->tensor("image_" + key), config);
    const at::Tensor grid = io->tensor("image_grid_thw_" + key);
    EXPECT_EQ(out.grid, (GridThw{grid[0][0].item<int64_t>(), grid[0][1].item<int64_t>(), grid[0][2].item<int64_t>()})) << key;
    const at::Tensor ref = io->tensor("pixel_values_" + key);
    testing::expect_parity(out.pixel_values, ref, "pixel_values_" + key);
    // The uint8 resize is bit-exact: what is left is fp32 rounding of the normalisation.
    EXPECT_LE((out.pixel_values - ref).abs().max().item<double>(), 1e-6) << key;
  }
}

TEST(ImageProcessor, ResizeIsTorchsUint8KernelBitForBit) {
  // Noise, up and down, one axis or both: torch 2.15's F.interpolate(uint8, bicubic, antialias).
  const auto io = SafetensorsFile::open(kGolden + "/vision_processor_io.safetensors");
  for (int i = 0; io->contains("resize_in_" + std::to_string(i)); ++i) {
    const at::Tensor ref = io->tensor("resize_out_" + std::to_string(i));
    const at::Tensor out = resize_bicubic_antialias_u8(io->tensor("resize_in_" + std::to_string(i)), ref.size(1), ref.size(2));
    EXPECT_TRUE(at::equal(out, ref)) << "case " << i << ": max |diff| "
                                     << (out.to(at::kInt) - ref.to(at::kInt)).abs().max().item<int>();
    if (i == 5) {
      // The check resolves one level: one pixel off is caught.
      at::Tensor off = out.clone();
      off[0][0][0] = uint8_t(off[0][0][0].item<uint8_t>() ^ 1);
      EXPECT_FALSE(at::equal(off, ref));
    }
  }
  EXPECT_TRUE(io->contains("resize_in_5"));
}

TEST(ImageProcessor, TheCheckCatchesOtherResamplers) {
  // PIL's resampling (upstream without torchvision) is one uint8 level off on some pixels, and
  // plain bicubic without antialiasing is further off: both fail the parity check.
  const auto config = GlmImageProcessorConfig::from_file(kGolden + "/vision_processor/preprocessor_config.json");
  const auto io = SafetensorsFile::open(kGolden + "/vision_processor_io.safetensors");
  const at::Tensor ref = io->tensor("pixel_values_large");
  expect_caught(io->tensor("pixel_values_large_pil"), ref, "pil_resampling");
  // "mid" needs no resize, so PIL and torchvision agree there.
  EXPECT_TRUE(at::equal(io->tensor("pixel_values_mid_pil"), io->tensor("pixel_values_mid")));
  const at::Tensor image = io->tensor("image_large");
  const at::Tensor chw = image.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  const at::Tensor plain = at::upsample_bicubic2d(chw, at::IntArrayRef({20, 32}), /*align_corners=*/false).clamp(0, 255).round();
  GlmImageProcessorConfig no_resize = config;
  no_resize.do_resize = false;
  const at::Tensor plain_pv =
      glm_image_preprocess(plain.squeeze(0).permute({1, 2, 0}).to(at::kByte).contiguous(), no_resize).pixel_values;
  expect_caught(plain_pv, ref, "bicubic_without_antialias");
}

TEST(ImageProcessor, ResizeDiffersFromTheFloatKernelAsTorchDoes) {
  // torchvision on a GPU tensor takes the float kernel and rounds once at the end. On a smooth
  // image the two agree within one level; on noise the uint8 kernel's clamp between its passes
  // cuts the cubic overshoot and a few pixels part further (torch 2.15 itself: up to 17 levels).
  const at::Tensor noise = at::randint(0, 256, {3, 37, 53}, at::kByte);
  const at::Tensor y = at::arange(37, at::kFloat).view({37, 1}), x = at::arange(53, at::kFloat).view({1, 53});
  const at::Tensor smooth = at::stack({y * 6 + x * 0, x * 4 + y * 0, (x + y) * 2.5}).clamp(0, 255).round().to(at::kByte);
  auto gap = [](const at::Tensor& image, int64_t h, int64_t w) {
    const at::Tensor flt = at::_upsample_bicubic2d_aa(image.unsqueeze(0).to(at::kFloat), at::IntArrayRef({h, w}), false)
                               .clamp(0, 255)
                               .round()
                               .squeeze(0);
    return (resize_bicubic_antialias_u8(image, h, w).to(at::kFloat) - flt).abs();
  };
  for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{16, 24}, {80, 96}, {37, 20}, {9, 53}, {20, 30}}) {
    EXPECT_LE(gap(smooth, h, w).max().item<float>(), 1.0f) << h << "x" << w;
    EXPECT_LT(gap(noise, h, w).gt(1).to(at::kFloat).mean().item<float>(), 0.05f) << h << "x" << w;
  }
  EXPECT_GT(gap(noise, 80, 96).max().item<float>(), 1.0f);
  EXPECT_TRUE(at::equal(resize_bicubic_antialias_u8(noise, 37, 53), noise));
}

TEST(ImageProcessor, ConfigIsReadAsUpstreamReadsIt) {
  const auto golden = GlmImageProcessorConfig::from_file(kGolden + "/vision_processor/preprocessor_config.json");
  EXPECT_EQ(golden.patch_size, 4);
  EXPECT_EQ(golden.min_pixels, 1024);
  EXPECT_EQ(golden.image_mean[2], 0.5);
  // Missing fields take the class defaults, not the checkpoint's values.
  const auto sparse = GlmImageProcessorConfig::from_json({{"patch_size", 16}}, "p.json");
  EXPECT_EQ(sparse.temporal_patch_size, 2);
  EXPECT_EQ(sparse.merge_size, 2);
  EXPECT_EQ(sparse.min_pixels, 56 * 56);
  const auto sized = GlmImageProcessorConfig::from_json(
      {{"size", {{"shortest_edge", 100}, {"longest_edge", 200}}}, {"max_pixels", 300}, {"image_mean", 0.25}}, "p.json");
  EXPECT_EQ(sized.min_pixels, 100);
  EXPECT_EQ(sized.max_pixels, 300);
  EXPECT_EQ(sized.image_mean[1], 0.25);
  const std::string e1 = checkpoint_error([] { GlmImageProcessorConfig::from_json({{"resample", 2}}, "p.json"); });
  EXPECT_NE(e1.find("'p.json': resample 2 is not supported (3, bicubic)"), std::string::npos) << e1;
  const std::string e2 = checkpoint_error([] { GlmImageProcessorConfig::from_json({{"image_std", {1, 2}}}, "p.json"); });
  EXPECT_NE(e2.find("'p.json': field 'image_std' must be a number or a list of 3 numbers"), std::string::npos) << e2;
  const std::string e3 = checkpoint_error([] { GlmImageProcessorConfig::from_json({{"size", {{"height", 4}}}}, "p.json"); });
  EXPECT_NE(e3.find("size must give shortest_edge and longest_edge"), std::string::npos) << e3;
}

TEST(ImageProcessor, DefaultsAreTheCheckpointsProcessor) {
  // GLM-Image's own preprocessor_config.json: [512^2, 2048^2], halved, patch 16, mean = std = 0.5.
  const at::Tensor image = at::full({45, 70, 3}, 255, at::kByte);
  const ProcessedImage out = glm_image_preprocess(image);
  EXPECT_EQ(out.grid, (GridThw{1, 16, 25}));  // 256 x 400 pixels
  EXPECT_EQ(out.pixel_values.sizes(), (std::vector<int64_t>{400, 768}));
  EXPECT_TRUE(at::allclose(out.pixel_values, at::ones({400, 768})));
  EXPECT_THROW(glm_image_preprocess(at::zeros({45, 70, 4}, at::kByte)), std::invalid_argument);
  EXPECT_THROW(glm_image_preprocess(at::zeros({10, 70, 3}, at::kByte)), std::invalid_argument);
}

}  // namespace
}  // namespace glmh
