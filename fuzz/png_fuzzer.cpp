// PNG files (harness/io/png_decode.h: what --image and scenario images read): an accepted image has
// its declared size's pixels, within glmh's limit.
#include <stdexcept>

#include "fuzz/fuzz_input.h"
#include "harness/io/png_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  fuzz::refuse_only_with<std::invalid_argument>([&] {
    const RgbImage image = decode_png(fuzz::text_of(data, size), "input.png");
    fuzz::require(uint64_t(image.width) * image.height <= kMaxPngPixels, "within the pixel limit");
    fuzz::require(image.pixels.size() == size_t(image.width) * image.height * 3, "3 bytes per pixel");
  });
  return 0;
}
