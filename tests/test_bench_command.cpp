// glmh bench, the program: timed iterations after the checked run, percentiles per stage and per
// step, the single-rank run added for the speedups, the Amdahl bound, the four reports; and the
// gate over its results passing a loose CPU baseline and failing a deliberately regressed one; the
// step breakdown of --profile.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness/timing/step_breakdown.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

using testing::contains;
using testing::read_text;

class BenchCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU ranks";
  }
  std::string write(const std::string& name, const std::string& text) { return testing::write_text(dir_.path(), name, text); }
  testing::TempDir dir_;
};

TEST_F(BenchCommand, TimesEveryLayoutAndGivesSpeedupsOverTheSingleRankRun) {
  const std::string scenarios = write("b.csv",
                                      "name,height,width,steps,world_size,sp,ring,cfg,fault\n"
                                      "sp2-ring,64,96,3,2,2,2,1,\n"
                                      "cfg2,64,96,3,2,1,,2,\n"
                                      "skipped-fault,64,96,3,2,2,2,1,ring-prefix-no-rotate\n");
  const std::string out = dir_.path() + "/bench";
  const auto r = testing::run_process({GLMH_BINARY, "bench", "--scenarios", scenarios, "--repeat", "2", "--warmup", "1",
                                       "--out", out},
                                      std::chrono::seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "single-rank.sp2-ring")) << r.output;
  EXPECT_FALSE(contains(r.output, "skipped-fault")) << "a fault scenario must not be timed";
  const std::string bench = read_text(out + "/scenarios/sp2-ring/bench.json");
  EXPECT_TRUE(contains(bench, "\"denoise_step_seconds\"")) << bench;
  EXPECT_TRUE(contains(bench, "\"iterations\": 2")) << bench;
  const std::string csv = read_text(out + "/results.csv");
  for (const char* row : {"sp2-ring,speedup,speedup:glm_image.denoising,", "cfg2,efficiency,efficiency:end_to_end,",
                          "sp2-ring,bound,amdahl:end_to_end,", "sp2-ring,timing,denoise_step:p50,",
                          "sp2-ring,timing,glm_image.denoising:p90,", "cfg2,timing,peak_memory_gib,"})
    EXPECT_TRUE(contains(csv, row)) << row << "\n" << csv;
  EXPECT_TRUE(contains(read_text(out + "/summary.md"), "## Performance"));
  EXPECT_TRUE(contains(read_text(out + "/report.html"), "Speedup over the single-rank run"));

  // The gate over these results: a loose ratio floor passes, an impossible one fails.
  const std::string loose = write("loose.csv", "scenario,metric,baseline,rel,abs\nsp2-ring,speedup:glm_image.denoising,0.05,0,0\n"
                                               "sp2-ring,glm_image.denoising:p50,0.000001,0,0\n");
  auto g = testing::run_process({GLMH_BINARY, "gate", "--results", out + "/results.csv", "--baseline", loose});
  EXPECT_EQ(g.exit_code, 0) << g.output;
  EXPECT_TRUE(contains(g.output, "not gated: absolute times on the CPU")) << g.output;
  const std::string regressed = write("regressed.csv", "scenario,metric,baseline,rel,abs\nsp2-ring,speedup:glm_image.denoising,100,0,0\n");
  g = testing::run_process({GLMH_BINARY, "gate", "--results", out + "/results.csv", "--baseline", regressed});
  EXPECT_EQ(g.exit_code, 1) << g.output;
}

// --profile: every rank's Chrome trace, and a breakdown whose parts add up to the profiled step and
// show the layout's own cost: the Ulysses all-to-all appears as communication, which the
// single-rank step has none of.
TEST_F(BenchCommand, ProfiledStepsAreBrokenDownPerLayoutBesideTheSingleRankStep) {
  const std::string scenarios = write("p.csv", "name,height,width,steps,world_size,sp,ulysses\nsp2-ulysses,64,96,4,2,2,2\n");
  const std::string out = dir_.path() + "/profiled";
  const auto r = testing::run_process({GLMH_BINARY, "bench", "--scenarios", scenarios, "--repeat", "1", "--warmup", "0",
                                       "--profile", "--out", out},
                                      std::chrono::seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* run : {"sp2-ulysses", "single-rank.sp2-ulysses"}) {
    const auto bench = nlohmann::json::parse(read_text(out + "/scenarios/" + run + "/bench.json"));
    const auto& ranks = bench.at("step_breakdown").at("ranks");
    ASSERT_EQ(ranks.size(), std::string(run) == "sp2-ulysses" ? 2u : 1u) << bench.dump();
    for (size_t rank = 0; rank < ranks.size(); ++rank) {
      const StepBreakdown b = StepBreakdown::from_json(ranks[rank]);
      EXPECT_EQ(b.steps, 2);
      EXPECT_NEAR(b.sum_of_parts(), b.step, 1e-9 * b.step);
      EXPECT_GT(b.gemm, 0);
      EXPECT_GT(b.attention, 0);
      if (std::string(run) == "sp2-ulysses") EXPECT_GT(b.exposed_communication, 0) << "rank " << rank;
      else EXPECT_EQ(b.collectives, 0);
      // The trace is a Chrome trace libtorch wrote, and it is what the breakdown was read from.
      const std::string trace = read_text(out + "/scenarios/" + run + "/trace-rank" + std::to_string(rank) + ".json");
      EXPECT_NEAR(step_breakdown_from_trace(trace, 2, "trace").step, b.step, 1e-12);
    }
  }
  const std::string csv = read_text(out + "/results.csv");
  for (const char* row : {"sp2-ulysses,breakdown,breakdown:gemm,", "sp2-ulysses,breakdown,breakdown:exposed_communication,",
                          "sp2-ulysses,breakdown,breakdown_vs_single:exposed_communication,",
                          "single-rank.sp2-ulysses,breakdown,breakdown:idle,"})
    EXPECT_TRUE(contains(csv, row)) << row << "\n" << csv;
  EXPECT_TRUE(contains(read_text(out + "/summary.md"), "### Denoise step breakdown"));
  EXPECT_TRUE(contains(read_text(out + "/report.html"), "Denoise step breakdown per layout"));
}

// A bench split over two invocations (a GPU lent in calls of bounded length), merged by glmh report:
// one report whose cfg2 row has its speedup over the first invocation's single-rank run.
TEST_F(BenchCommand, TwoRunsMergeIntoOneReportWithSpeedupsAcrossThem) {
  const std::string scenarios = write("m.csv",
                                      "name,height,width,steps,world_size,cfg\n"
                                      "single,64,96,3,1,1\n"
                                      "cfg2,64,96,3,2,2\n");
  const std::string first = dir_.path() + "/first", second = dir_.path() + "/second", merged = dir_.path() + "/merged";
  for (const auto& [filter, out] : {std::pair{"^single$", first}, std::pair{"^cfg2$", second}}) {
    const auto r = testing::run_process({GLMH_BINARY, "bench", "--scenarios", scenarios, "--filter", filter, "--repeat",
                                         "1", "--warmup", "0", "--out", out},
                                        std::chrono::seconds(300));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_FALSE(contains(read_text(first + "/results.csv"), "cfg2,")) << "the first run has no layout of its own";
  auto r = testing::run_process({GLMH_BINARY, "report", first, second, "--out", merged});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(read_text(merged + "/results.csv"), "cfg2,speedup,speedup:glm_image.denoising,"));
  const std::string summary = read_text(merged + "/summary.md");
  EXPECT_TRUE(contains(summary, "(merged from 2 runs)")) << summary;
  EXPECT_TRUE(contains(summary, "| merged from |")) << summary;

  r = testing::run_process({GLMH_BINARY, "report", first, first, "--out", dir_.path() + "/twice"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "'single' is in both")) << r.output;
  EXPECT_FALSE(posix_fs::exists(dir_.path() + "/twice")) << "nothing written on a refused merge";
  r = testing::run_process({GLMH_BINARY, "report", first, second});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "needs --out DIR")) << r.output;
}

TEST_F(BenchCommand, RefusesWhenNothingCanBeTimed) {
  const std::string scenarios = write("f.csv", "name,sp,ring,fault\nf,2,2,ring-prefix-no-rotate\n");
  const auto r = testing::run_process({GLMH_BINARY, "bench", "--scenarios", scenarios, "--out", dir_.path() + "/x"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "no scenario with expect=pass")) << r.output;
}

}  // namespace
}  // namespace glmh
