// The report writers' pieces, without a glmh run: base64 and the in-memory PNG encoder round-trip.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/io/base64.h"
#include "harness/io/png_image.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

using testing::read_text;

// Every pixel different from its neighbours, and different per seed.
at::Tensor test_image(int64_t height, int64_t width, int64_t seed) {
  return (at::arange(height * width * 3, at::kLong) * (31 + 2 * seed) % 256).to(at::kByte).reshape({height, width, 3});
}

at::Tensor png_bytes_as_image(const std::string& bytes, const std::string& dir) {
  const std::string path = testing::write_text(dir, "decoded.png", bytes);
  return read_png(path);
}

TEST(Base64, EncodesTheRfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text), bytes);
  }
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += char(i);
  for (size_t length : {253u, 254u, 255u, 256u}) {
    const std::string text = base64_encode(bytes.substr(0, length));
    EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), std::string::npos);
    EXPECT_EQ(base64_decode(text), bytes.substr(0, length));
  }
  EXPECT_THROW(base64_decode("Zm9"), std::invalid_argument);
  EXPECT_THROW(base64_decode("Zm9*"), std::invalid_argument);
  EXPECT_THROW(base64_decode("Z=9v"), std::invalid_argument);
}

TEST(PngImage, EncodedInMemoryItReadsBackAsTheSamePixels) {
  testing::TempDir dir;
  const at::Tensor image = test_image(5, 7, 1);
  const std::string png = encode_png(image);
  EXPECT_EQ(png.compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
  // Through base64 as report.html carries it, then libpng's reader.
  EXPECT_TRUE(at::equal(png_bytes_as_image(base64_decode(base64_encode(png)), dir.path()), image));
  // write_png writes the same bytes.
  write_png(dir.path() + "/written.png", image);
  EXPECT_EQ(read_text(dir.path() + "/written.png"), png);
  EXPECT_THROW(encode_png(at::zeros({4, 4}, at::kByte)), std::invalid_argument);
}

}  // namespace
}  // namespace glmh
