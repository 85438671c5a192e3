#include "harness/reports/scenario_images.h"

#include <cstdint>

#include "harness/io/base64.h"
#include "harness/io/png_image.h"
#include "harness/reports/image_difference.h"
#include "harness/reports/report_paths.h"
#include "pipeline/runtime/file_contents.h"

namespace glmh {

namespace {

const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

uint32_t big_endian_u32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | uint8_t(bytes[at + i]);
  return v;
}

EmbeddedImage embedded(const std::string& png_bytes) {
  EmbeddedImage image;
  // The size comes from the IHDR chunk, which a PNG file must start with (after the signature).
  image.width = int(big_endian_u32(png_bytes, 16));
  image.height = int(big_endian_u32(png_bytes, 20));
  image.data_uri = "data:image/png;base64," + base64_encode(png_bytes);
  return image;
}

EmbeddedImage missing(std::string why) {
  EmbeddedImage image;
  image.missing = std::move(why);
  return image;
}

// DIR/image.png, embedded; `path` receives where it was found.
EmbeddedImage image_of(const std::string& dir, const std::string& written_to, const std::string& report_dir,
                       std::string& path) {
  path = find_run_file(dir, "image.png", written_to, report_dir);
  if (path.empty()) return missing("no image");
  const std::string bytes = file_contents(path).value_or("");
  if (bytes.size() < 24 || bytes.compare(0, 8, kPngSignature, 8) != 0 || bytes.compare(12, 4, "IHDR") != 0)
    return missing("no image (" + path + " is not a PNG file)");
  if (bytes.size() > kLargestEmbeddedPng)
    return missing("not embedded: " + path + " is " + std::to_string(bytes.size() >> 20) + " MiB");
  return embedded(bytes);
}

}  // namespace

ScenarioImages scenario_images(const ScenarioOutcome& outcome, const std::string& written_to,
                               const std::string& report_dir) {
  ScenarioImages images;
  std::string run_path, reference_path;
  images.run = image_of(outcome.run_dir, written_to, report_dir, run_path);
  images.reference = outcome.reference_dir.empty()
                         ? missing("no single-rank reference")
                         : image_of(outcome.reference_dir, written_to, report_dir, reference_path);
  for (const auto& c : outcome.checks)
    if (c.name == "image_parity" && c.failed()) images.image_parity_failed = true;
  if (!images.image_parity_failed) return images;
  if (images.run.data_uri.empty() || images.reference.data_uri.empty()) {
    images.difference = missing("no difference map: an image is missing");
    return images;
  }
  try {
    const AmplifiedDifference d = amplified_difference(read_png(run_path), read_png(reference_path));
    images.difference = embedded(encode_png(d.image));
    images.largest_difference = d.largest;
    images.gain = d.gain;
  } catch (const std::exception& e) {
    images.difference = missing(std::string("no difference map: ") + e.what());
  }
  return images;
}

}  // namespace glmh
