// glmh's DBCache against goldens recorded with the real cache-dit releases (golden/cache/, made by
// scripts/reference/make_cache_goldens.py): for every release and configuration, `glmh forward
// --component denoise` replays the denoising loop on the same transformer and inputs and must
// cache exactly the steps the release cached, per branch, with final latents within
// 1e-4 x max|reference| (fp32, CPU). The configuration is the string the release itself printed
// (cache_dit.strify), given to --cache with the release's version.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

const std::string kGoldens = std::string(GLMH_SOURCE_DIR) + "/golden/cache";

struct GoldenCase {
  std::string release, name;
};

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  for (const auto& release : posix_fs::list_directory(kGoldens)) {
    if (release == "transformer" || !posix_fs::exists(kGoldens + "/" + release + "/")) continue;
    if (release.find('.') == std::string::npos) continue;  // MANIFEST.json, README.md are files
    for (const auto& file : posix_fs::list_directory(kGoldens + "/" + release)) {
      const auto dot = file.rfind(".safetensors");
      if (dot != std::string::npos) cases.push_back({release, file.substr(0, dot)});
    }
  }
  return cases;
}

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.release << "/" << c.name; }

std::string steps_of(const at::Tensor& row) {
  std::string s;
  for (int64_t i = 0; i < row.numel(); ++i)
    if (row[i].item<int64_t>() == 1) s += (s.empty() ? "" : " ") + std::to_string(i);
  return s;
}

class CacheDitGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(CacheDitGolden, GlmhCachesTheReleasesStepsAndReachesItsLatents) {
  const GoldenCase& c = GetParam();
  const std::string golden = kGoldens + "/" + c.release + "/" + c.name + ".safetensors";
  const auto ref = SafetensorsFile::open(golden);
  const std::string printed = ref->metadata().at("summary");  // config + calibrator, as the release printed it
  testing::TempDir dir;
  const std::string out = dir.path() + "/out.safetensors";
  const testing::ProcessResult r =
      testing::run_process({GLMH_BINARY, "forward", "--checkpoint", kGoldens + "/transformer", "--component", "denoise",
                            "--inputs", golden, "--out", out, "--cache", "cache-dit@" + c.release + ":" + printed},
                           std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto got = SafetensorsFile::open(out);
  const at::Tensor hits = got->tensor("cache_hits"), want = ref->tensor("cache_hits");
  for (int b = 0; b < 2; ++b)
    EXPECT_EQ(steps_of(hits[b]), steps_of(want[b])) << (b == 0 ? "conditional" : "unconditional") << " branch, "
                                                    << printed << " (cache-dit " << c.release << ")";
  const at::Tensor latents = got->tensor("latents"), expected = ref->tensor("latents_out");
  const double error = (latents - expected).abs().max().item<double>() / expected.abs().max().item<double>();
  EXPECT_LE(error, 1e-4) << "max |latents - release's| / max |release's|";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", error);
  RecordProperty("relative_error", text);
}

INSTANTIATE_TEST_SUITE_P(RealReleases, CacheDitGolden, ::testing::ValuesIn(golden_cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string name = "v" + info.param.release + "_" + info.param.name;
                           for (char& ch : name)
                             if (ch == '.') ch = '_';
                           return name;
                         });

// A release is in pipeline/cache/cache_dit_releases.csv only with goldens recorded with it.
TEST(CacheDitGoldens, EveryReleaseOfTheDataFileHasGoldens) {
  for (const auto& release : cache_dit_releases()) {
    EXPECT_TRUE(posix_fs::exists(kGoldens + "/" + release.version + "/fn1_examples.safetensors")) << release.version;
    EXPECT_TRUE(posix_fs::exists(kGoldens + "/" + release.version + "/mc3_threshold_break.safetensors")) << release.version;
  }
}

}  // namespace
}  // namespace glmh
