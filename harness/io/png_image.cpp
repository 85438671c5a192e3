#include "harness/io/png_image.h"

#include <ATen/ATen.h>
#include <png.h>

#include <cstring>
#include <optional>
#include <stdexcept>

#include "harness/io/png_decode.h"
#include "harness/io/report_files.h"
#include "pipeline/runtime/file_contents.h"

namespace glmh {

std::string encode_png(const at::Tensor& rgb_in) {
  if (rgb_in.dim() != 3 || rgb_in.size(2) != 3 || rgb_in.scalar_type() != at::kByte)
    throw std::invalid_argument("encode_png: expected uint8 [H, W, 3]");
  const at::Tensor rgb = rgb_in.cpu().contiguous();
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(rgb.size(1));
  image.height = static_cast<png_uint_32>(rgb.size(0));
  image.format = PNG_FORMAT_RGB;
  // One pass into a buffer of libpng's worst-case size (the simplified API keeps libpng's
  // longjmp error handling inside libpng, away from C++ frames).
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(image);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, rgb.data_ptr<uint8_t>(), 0, nullptr))
    throw std::runtime_error(std::string("cannot encode PNG: ") + image.message);
  bytes.resize(size);
  return bytes;
}

void write_png(const std::string& path, const at::Tensor& rgb) {
  if (rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != at::kByte)
    throw std::invalid_argument("write_png '" + path + "': expected uint8 [H, W, 3]");
  try {
    write_file_atomically(path, encode_png(rgb));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("cannot write PNG '" + path + "': " + e.what());
  }
}

at::Tensor read_png(const std::string& path) {
  const std::optional<std::string> bytes = file_contents(path);
  if (!bytes) throw std::invalid_argument("cannot read PNG '" + path + "': cannot open the file");
  RgbImage image = decode_png(*bytes, path);
  return at::from_blob(image.pixels.data(), {int64_t(image.height), int64_t(image.width), 3}, at::kByte).clone();
}

}  // namespace glmh
