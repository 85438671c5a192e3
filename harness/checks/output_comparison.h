// Comparing two outputs of GLM-Image runs — final latents or prior tokens (safetensors) or images
// (PNG) — by the metrics the harness gates on: max abs error, max abs error relative to the
// reference's peak, NMSE (mse(a, b) / mse(b, 0), as llama.cpp's test-backend-ops), cosine, PSNR
// and, for images, SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, per channel).
#pragma once

#include <ATen/core/Tensor.h>

#include <limits>
#include <string>
#include <vector>

namespace glmh {

struct OutputComparison {
  std::string kind;  // "image" or "tensors"
  double max_abs_error = 0;
  double relative_max_error = 0;  // max |a - b| / max |b|
  double nmse = 0;
  double cosine = 1;
  double psnr_db = std::numeric_limits<double>::infinity();  // images: peak 255; tensors: peak max |b|
  double ssim = std::numeric_limits<double>::quiet_NaN();    // images only
  std::string summary() const;
};

// Mean SSIM of two uint8 [H, W, C] images (NaN below the 11 x 11 window).
double image_ssim(const at::Tensor& a, const at::Tensor& b);

// `a` against the reference `b`. Throws std::invalid_argument naming the file when a file cannot
// be read, the kinds differ, the tensor names differ, or the shapes differ.
OutputComparison compare_files(const std::string& a, const std::string& b);

}  // namespace glmh
