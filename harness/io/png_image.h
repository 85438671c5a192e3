// 8-bit RGB PNG files through libpng's simplified API: what `glmh generate` writes, what
// `--image` reads, and the images report.html embeds.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace glmh {

// uint8 [H, W, 3] (CPU or not) -> the bytes of a PNG file. Throws std::invalid_argument on another
// shape or dtype, std::runtime_error with libpng's reason when encoding fails.
std::string encode_png(const at::Tensor& rgb);
// encode_png's bytes -> `path`, written to a temporary name and renamed: never half-written.
void write_png(const std::string& path, const at::Tensor& rgb);
// `path` (any PNG: palette, grey, alpha, 16-bit are converted) -> uint8 [H, W, 3]. Errors name
// the file and libpng's reason.
at::Tensor read_png(const std::string& path);

}  // namespace glmh
