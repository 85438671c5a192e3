// 8-bit RGB PNG files through libpng's simplified API: what `glmh generate` writes and what
// `--image` reads.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace glmh {

// uint8 [H, W, 3] (CPU) -> `path`, written to a temporary name and renamed: never half-written.
void write_png(const std::string& path, const at::Tensor& rgb);
// `path` (any PNG: palette, grey, alpha, 16-bit are converted) -> uint8 [H, W, 3]. Errors name
// the file and libpng's reason.
at::Tensor read_png(const std::string& path);

}  // namespace glmh
