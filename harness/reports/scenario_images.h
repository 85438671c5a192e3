// What report.html shows of a scenario's output: its image.png, the image.png of the single-rank
// run it was compared with, and, where image parity failed, their amplified difference; each as a
// data URI, so that the report stays one self-contained file. A missing or unreadable image is
// never an error: it is shown as the reason there is none.
#pragma once

#include <string>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

struct EmbeddedImage {
  std::string data_uri;  // "data:image/png;base64,..."; "" when there is none
  std::string missing;   // why there is none ("no image", "no single-rank reference", ...)
  int width = 0, height = 0;
};

struct ScenarioImages {
  EmbeddedImage run, reference;
  bool image_parity_failed = false;
  EmbeddedImage difference;  // image_parity failed: the map, or why there is none
  int largest_difference = 0;  // in 8-bit levels
  double gain = 1;             // the map's amplification (255 / largest_difference)
};

// Larger PNG files are left out (named, not embedded): a report of 2048² runs stays openable.
constexpr size_t kLargestEmbeddedPng = 16u << 20;

// The directories are looked for as report_paths.h says.
ScenarioImages scenario_images(const ScenarioOutcome& outcome, const std::string& written_to,
                               const std::string& report_dir);

}  // namespace glmh
