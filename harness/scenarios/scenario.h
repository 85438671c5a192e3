// One scenario: a GLM-Image request on a parallel layout, with the outcome it must have. A row
// of a scenario file (scenarios/README.md documents the columns); the settings are data, as in
// MLPerf LoadGen's test settings.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace glmh {

struct Scenario {
  std::string name;
  std::string model = "tiny";
  std::string task = "t2i";  // t2i or i2i
  std::string image;         // i2i: the reference PNG (relative paths are taken from the file's folder)
  std::string prompt = "A poster that says \"glmh\"";
  int height = 1024, width = 1024, steps = 30;
  double guidance = 1.5;
  long long seed = 42;
  std::string dtype;             // empty: fp32 on cpu, bf16 on cuda
  std::string device = "cpu";
  int world_size = 1, tp = 1, sp = 1, ulysses = 0, ring = 0, cfg = 1;
  std::string ar_strategy = "main-rank";
  std::string cache = "none";
  std::string fault = "none";
  // pass; detect (some check must catch the fault); or detect:CHECK[+CHECK...]: exactly these
  // checks fail (docs/checks.md#each-check-proves-itself)
  std::string expect = "pass";
  // Tolerance overrides (unset: glmh run's defaults).
  std::optional<double> latent_tolerance, min_cosine, min_psnr;

  int file_line = 0;  // where it was read, for messages

  // glmh run's arguments for this scenario (everything but --out and --reference).
  std::vector<std::string> run_arguments() const;
  // The single-rank run this scenario is compared with: the same request on one rank. Scenarios
  // with the same key share one golden.
  std::string reference_key() const;
  // Whether a golden of this request made on one machine holds on another: not in bf16 on the CPU,
  // whose matrix kernels (oneDNN's AMX, AVX512-BF16 or AVX2 paths) round differently from CPU to
  // CPU, enough to flip a sampled token (docs/checks.md#goldens-and-bf16). Such a request's
  // reference is computed by the binary under test wherever it runs.
  bool golden_portable() const;
  bool expects_detection() const { return expect.rfind("detect", 0) == 0; }
  // The checks that must be the failing ones, sorted; empty for "pass" and a bare "detect".
  std::vector<std::string> expected_catchers() const;
  // "sp2-ring2 tp1 cfg1" style summary of the layout.
  std::string layout_text() const;
};

}  // namespace glmh
