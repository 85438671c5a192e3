#include "harness/io/png_decode.h"

#include <png.h>

#include <cstring>
#include <stdexcept>

namespace glmh {

RgbImage decode_png(const std::string& bytes, const std::string& source) {
  const auto fail = [&](const std::string& why) { return std::invalid_argument("cannot read PNG '" + source + "': " + why); };
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) throw fail(image.message);
  const uint64_t pixels = uint64_t(image.width) * image.height;
  if (pixels > kMaxPngPixels) {
    png_image_free(&image);
    throw fail(std::to_string(image.width) + " x " + std::to_string(image.height) + " pixels, more than the " +
               std::to_string(kMaxPngPixels) + " glmh reads");
  }
  image.format = PNG_FORMAT_RGB;  // libpng converts palette, grey, alpha (composited on black) and 16-bit
  RgbImage out;
  out.width = image.width;
  out.height = image.height;
  out.pixels.resize(pixels * 3);
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    throw fail(image.message);
  }
  return out;
}

}  // namespace glmh
