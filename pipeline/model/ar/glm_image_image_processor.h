// GLM-Image's image processor for one source image (transformers GlmImageImageProcessor, the
// torchvision backend that transformers 5.24 picks when torchvision is installed),
// docs/model.md#image-processor: smart_resize into [min_pixels, max_pixels], halved, to multiples
// of patch * merge; bicubic antialiased resize of the uint8 image; rescale and normalise; patchify
// into rows of (channel, temporal copy, y, x).
//
// The resize is torch's CPU uint8 kernel, which the torchvision backend uses for a uint8 image on
// the CPU (its default): separable, horizontal pass first, Keys cubic (a = -0.5) stretched by the
// downscale factor, int16 fixed-point weights, each pass rounded to uint8. Reproduced here bit for
// bit. Known residuals: upstream's PIL backend (used when torchvision is missing) has finer
// weights and differs by one uint8 level on some pixels; torchvision on a GPU tensor takes the
// float kernel: within one level on smooth content, further apart on a few pixels of
// high-contrast content (the uint8 kernel clamps the cubic overshoot between its passes).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "pipeline/model/ar/ar_positions.h"

namespace glmh {

struct GlmImageProcessorConfig {
  // Defaults: GLM-Image's processor/preprocessor_config.json.
  bool do_resize = true;
  int64_t min_pixels = 512 * 512;    // size.shortest_edge
  int64_t max_pixels = 2048 * 2048;  // size.longest_edge
  int64_t resample = 3;              // PIL BICUBIC, the only one supported
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean = {0.5, 0.5, 0.5};
  std::array<double, 3> image_std = {0.5, 0.5, 0.5};
  int64_t patch_size = 16;
  int64_t temporal_patch_size = 1;
  int64_t merge_size = 1;

  // The GlmImageImageProcessor class defaults, which a preprocessor_config.json overrides field by
  // field (they are Qwen2-VL's: patch 14, temporal 2, merge 2, CLIP mean/std).
  static GlmImageProcessorConfig upstream_class_defaults();
  // Upstream's reading: `size` {shortest_edge, longest_edge}, then min_pixels / max_pixels over it.
  static GlmImageProcessorConfig from_json(const nlohmann::json& j, const std::string& source);
  static GlmImageProcessorConfig from_file(const std::string& preprocessor_config_json);
};

// Upstream's smart_resize: (height, width) of the resized image. Throws std::invalid_argument
// when a side is below `factor` or the aspect ratio exceeds 4.
std::pair<int64_t, int64_t> glm_image_smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                                   int64_t max_pixels);

// uint8 [C, H, W] (CPU) -> uint8 [C, out_h, out_w]: torch's antialiased bicubic uint8 kernel.
at::Tensor resize_bicubic_antialias_u8(const at::Tensor& image, int64_t out_h, int64_t out_w);

struct ProcessedImage {
  at::Tensor pixel_values;  // [h * w, 3 * temporal * patch^2] fp32, CPU
  GridThw grid;             // (1, h, w) in patches
};

// One RGB image, uint8 [H, W, 3] on the CPU.
ProcessedImage glm_image_preprocess(const at::Tensor& rgb, const GlmImageProcessorConfig& config = {});

}  // namespace glmh
