#include "harness/io/png_image.h"

#include <ATen/ATen.h>
#include <png.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

namespace glmh {

void write_png(const std::string& path, const at::Tensor& rgb_in) {
  if (rgb_in.dim() != 3 || rgb_in.size(2) != 3 || rgb_in.scalar_type() != at::kByte)
    throw std::invalid_argument("write_png '" + path + "': expected uint8 [H, W, 3]");
  const at::Tensor rgb = rgb_in.cpu().contiguous();
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(rgb.size(1));
  image.height = static_cast<png_uint_32>(rgb.size(0));
  image.format = PNG_FORMAT_RGB;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  if (!png_image_write_to_file(&image, tmp.c_str(), 0, rgb.data_ptr<uint8_t>(), 0, nullptr)) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write PNG '" + path + "': " + image.message);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

at::Tensor read_png(const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    throw std::invalid_argument("cannot read PNG '" + path + "': " + image.message);
  image.format = PNG_FORMAT_RGB;  // libpng converts palette, grey, alpha (composited on black) and 16-bit
  at::Tensor rgb = at::empty({int64_t(image.height), int64_t(image.width), 3}, at::kByte);
  if (!png_image_finish_read(&image, nullptr, rgb.data_ptr<uint8_t>(), 0, nullptr)) {
    png_image_free(&image);
    throw std::invalid_argument("cannot read PNG '" + path + "': " + image.message);
  }
  return rgb;
}

}  // namespace glmh
