// Decoding PNG bytes into 8-bit RGB, without libtorch: the reader behind read_png, fuzzed on its
// own (fuzz/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace glmh {

struct RgbImage {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel
};

// Larger images are refused before any pixel memory is taken: a 29-byte header can claim
// 2^31 x 2^31 pixels. GLM-Image's largest image is 2048 x 2048.
constexpr uint64_t kMaxPngPixels = uint64_t(1) << 26;

// Any PNG (palette, grey, alpha composited on black, 16-bit: libpng converts) -> RGB.
// std::invalid_argument "cannot read PNG 'SOURCE': reason" on bad input.
RgbImage decode_png(const std::string& bytes, const std::string& source);

}  // namespace glmh
