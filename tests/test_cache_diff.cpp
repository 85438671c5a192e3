// Cache-dit upgrade validation: glmh cache-diff between two releases' rules on the CPU matrix
// (scenarios/cache-diff.csv: one rank, Ulysses SP 2, CFG-parallel 2) — the decisions that changed,
// image scores, the four reports, the gate over them — a user's own cache-dit run compared with
// glmh's (a real release's golden standing in for it), glmh bench --cache, and the figures of a
// schedule on their own.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <fstream>

#include "harness/caching/cache_schedule.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/communicator.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

using testing::contains;
using testing::read_text;

const std::string kSource = GLMH_SOURCE_DIR;
// The rules of 1.5.2 and 1.5.3 give different schedules for this configuration on the tiny
// model's 16 steps (the continuous-limit count, docs/cache-dit-releases.md#38).
const std::string kConfig = "DBCache_F1B0_W0I1M0MC1_R0.99";

class CacheDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU ranks";
  }
  std::string write(const std::string& name, const std::string& text) { return testing::write_text(dir_.path(), name, text); }
  testing::TempDir dir_;
};

TEST_F(CacheDiff, TwoReleasesOnTheCpuMatrixShowTheChangedStepsAndTheImageScores) {
  const std::string out = dir_.path() + "/diff";
  const auto r = testing::run_process({GLMH_BINARY, "cache-diff", "--scenarios", kSource + "/scenarios/cache-diff.csv", "--a",
                                       "cache-dit@1.5.2:" + kConfig, "--b", "cache-dit@1.5.3:" + kConfig, "--out", out},
                                      std::chrono::seconds(600));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Per layout: both profiles' runs beside the uncached one, identical decisions on every layout.
  for (const char* layout : {"single", "sp2-ulysses", "cfg2"}) {
    for (const char* run : {".uncached", ".a", ".b"})
      EXPECT_TRUE(contains(r.output, std::string(layout) + run + ": pass")) << layout << run << "\n" << r.output;
  }
  const std::string csv = read_text(out + "/results.csv");
  for (const char* layout : {"single", "sp2-ulysses", "cfg2"}) {
    const std::string b = std::string(layout) + ".b,";
    EXPECT_TRUE(contains(csv, b + "check,cache_schedule_change,pass,8,0,\"8 decision(s) changed; cond: A caches 1 3 4 6 7 9 10 13, B 1 3 6 8 10 13;"))
        << csv;
    EXPECT_TRUE(contains(csv, b + "check,cache_image_quality,pass,")) << csv;
    EXPECT_TRUE(contains(csv, b + "image,psnr:vs_a,")) << csv;
    EXPECT_TRUE(contains(csv, b + "cache,cache_changed_calls,na,8,")) << csv;
    EXPECT_TRUE(contains(csv, std::string(layout) + ".a,cache,cache_hit_rate,na,0.5,")) << csv;
    EXPECT_TRUE(contains(csv, std::string(layout) + ".a,speedup,speedup:over_uncached,")) << csv;
  }
  EXPECT_TRUE(contains(csv, "sp2-ulysses.a,check,cache_parallel_parity,pass,")) << csv;
  EXPECT_TRUE(contains(csv, "cfg2.b,image,ssim:vs_single_rank,")) << csv;
  EXPECT_TRUE(contains(read_text(out + "/summary.md"), "### Caching"));
  EXPECT_TRUE(contains(read_text(out + "/report.html"), "changed decisions vs A"));
  EXPECT_TRUE(contains(read_text(out + "/junit.xml"), "cache_schedule_change"));

  // The gate reads the figures: "no decision may change" fails, a PSNR floor the run meets passes.
  const std::string baseline = write("b.csv", "scenario,metric,baseline,rel,abs,direction\n"
                                              "single.b,psnr:vs_uncached,30,0,0,\n"
                                              "cfg2.b,cache_changed_calls,0,0,0,\n");
  const auto g = testing::run_process({GLMH_BINARY, "gate", "--results", out + "/results.csv", "--baseline", baseline});
  EXPECT_EQ(g.exit_code, 1) << g.output;
  EXPECT_TRUE(contains(g.output, "single.b                  psnr:vs_uncached")) << g.output;
  EXPECT_TRUE(contains(g.output, "FAIL    <= 0")) << g.output;
}

TEST_F(CacheDiff, ASchedulesChangeFailsWhenItMustNot) {
  const auto r = testing::run_process({GLMH_BINARY, "cache-diff", "--scenarios", kSource + "/scenarios/cache-diff.csv",
                                       "--filter", "^single$", "--require-same-schedule", "--a", "cache-dit@1.5.2:" + kConfig,
                                       "--b", "cache-dit@1.5.3:" + kConfig, "--out", dir_.path() + "/strict"},
                                      std::chrono::seconds(300));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FAIL: cache_schedule_change: 8 decision(s) changed")) << r.output;
}

TEST_F(CacheDiff, RefusesWhatItCannotRun) {
  const std::string file = kSource + "/scenarios/cache-diff.csv";
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<Case> cases = {
      {{"--scenarios", file, "--a", "none", "--b", "cache-dit@1.5.3"}, "--a: 'none' is no profile"},
      {{"--scenarios", file, "--a", "cache-dit@1.5.3", "--b", "cache-dit@9.9"}, "--b: cache-dit@9.9: glmh has no rules"},
      {{"--scenarios", file, "--a", "cache-dit@1.5.3"}, "--scenarios, --a and --b are required"},
      {{"--scenarios", file, "--a", "cache-dit@1.5.3", "--b", "DBCache_F1B0_W0I1M0MC0_R0.1_SCMfast_static", "--filter", "x"},
       "no scenario with expect=pass"},
      {{"--ours", "/nonexistent"}, "--ours needs --theirs-steps"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {GLMH_BINARY, "cache-diff"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = testing::run_process(argv);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(contains(r.output, c.says)) << c.says << "\n" << r.output;
  }
}

// A user's own cache-dit run, with a real release's golden standing in for it.
TEST_F(CacheDiff, AUsersCacheDitRunIsComparedWithGlmhsForTheSameProfile) {
  const std::string golden = kSource + "/golden/cache/1.5.3/mc1.safetensors";
  const auto ref = SafetensorsFile::open(golden);
  const std::string printed = ref->metadata().at("summary");
  const std::string ours = dir_.path() + "/ours.safetensors";
  auto r = testing::run_process({GLMH_BINARY, "forward", "--checkpoint", kSource + "/golden/cache/transformer", "--component",
                                 "denoise", "--inputs", golden, "--out", ours, "--cache", "cache-dit@1.5.3:" + printed},
                                std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // cache-dit's summary lists, as a user would dump them.
  const at::Tensor hits = ref->tensor("cache_hits");
  auto list = [&hits](int branch, int drop) {
    std::string s;
    for (int64_t k = 0; k < hits.size(1); ++k)
      if (hits[branch][k].item<int64_t>() == 1 && k != drop) s += (s.empty() ? "" : ", ") + std::to_string(k);
    return "[" + s + "]";
  };
  const std::string same = write("same.json", "{\"cached_steps\": " + list(0, -1) + ", \"cfg_cached_steps\": " + list(1, -1) + "}");
  r = testing::run_process({GLMH_BINARY, "cache-diff", "--ours", ours, "--theirs-steps", same, "--theirs", golden,
                            "--theirs-tensor", "latents_out"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "cached_steps_match: pass")) << r.output;
  EXPECT_TRUE(contains(r.output, "output_match: pass — latents: max |glmh - cache-dit|")) << r.output;

  // Their build caches one step fewer on the unconditional branch: named, with glmh's diff there.
  const std::string other = write("other.json", "{\"cached_steps\": " + list(0, -1) + ", \"cfg_cached_steps\": " + list(1, 4) + "}");
  r = testing::run_process({GLMH_BINARY, "cache-diff", "--ours", ours, "--theirs-steps", other});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "uncond: glmh caches 2 4 6 8 10 12 14, cache-dit 2 6 8 10 12 14 [step 4: glmh's diff"))
      << r.output;

  const std::string broken = write("broken.json", "{\"cached_steps\": [1, \"two\"], \"cfg_cached_steps\": []}");
  r = testing::run_process({GLMH_BINARY, "cache-diff", "--ours", ours, "--theirs-steps", broken});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "broken.json: \"cached_steps\" holds \"two\", not a step index")) << r.output;
}

TEST_F(CacheDiff, BenchWithACacheProfileReportsTheHitRateAndTheIdealSpeedupOfAStaticMask) {
  const std::string scenarios = write("s.csv", "name,height,width,steps\nsingle,64,96,8\n");
  const std::string out = dir_.path() + "/bench";
  const auto r = testing::run_process({GLMH_BINARY, "bench", "--scenarios", scenarios, "--repeat", "1", "--warmup", "0",
                                       "--cache", "DBCache_F1B0_W0I1M0MC0_R0.12_SCMfast_static", "--out", out},
                                      std::chrono::seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // fast at 8 steps = 11101001: steps 3, 5 and 6 of both branches cached; the tiny DiT has 2
  // blocks, a cached call runs 1 of them: 16 calls cost 10 + 6 / 2.
  const std::string csv = read_text(out + "/results.csv");
  EXPECT_TRUE(contains(csv, "single,cache,cache_hit_rate,na,0.375,")) << csv;
  EXPECT_TRUE(contains(csv, "single,cache,cache_ideal_speedup,na,1.23077,")) << csv;
  // A preset the scenario's step count lacks is refused before anything runs.
  const std::string five = write("five.csv", "name,height,width,steps\nfive,64,96,5\n");
  const auto bad = testing::run_process({GLMH_BINARY, "bench", "--scenarios", five, "--repeat", "1", "--cache",
                                         "DBCache_F1B0_W0I1M0MC0_R0.12_SCMfast_static", "--out", out + "2"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "cache-dit defines presets for 4, 6 or at least 8 steps, not 5")) << bad.output;
}

TEST(CacheSchedule, IdealSpeedupCountsTheBlocksACachedCallStillRuns) {
  CacheSchedule s;
  s.profile = "cache-dit@1.5.3:DBCache_F2B1_W0I1M0MC0_R0.5";
  s.dit_layers = 30;
  // 4 steps; cond caches steps 1 and 3, uncond only step 3.
  s.decisions.hits = at::tensor({0, 1, 0, 1, 0, 0, 0, 1}, at::kLong).view({2, 4});
  s.decisions.diffs = at::full({2, 4}, NAN, at::kDouble);
  EXPECT_EQ(s.cached_steps(0), (std::vector<int>{1, 3}));
  EXPECT_EQ(s.cached_calls(), 3);
  EXPECT_DOUBLE_EQ(s.hit_rate(), 3.0 / 8.0);
  // Sequential branches: 8 calls cost 5 + 3 x 3/30; CFG-parallel: each step its slower branch.
  EXPECT_DOUBLE_EQ(s.ideal_speedup(false), 8.0 / (5.0 + 3 * 0.1));
  EXPECT_DOUBLE_EQ(s.ideal_speedup(true), 4.0 / (1.0 + 1.0 + 1.0 + 0.1));
  s.dit_layers = 0;
  EXPECT_TRUE(std::isnan(s.ideal_speedup(false)));
}

}  // namespace
}  // namespace glmh
