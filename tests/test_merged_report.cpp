// glmh report RUN_DIR RUN_DIR ...: several bench runs of one build on one machine as one report.
#include <gtest/gtest.h>

#include "harness/reports/merged_report.h"

namespace glmh {
namespace {

ReportToMerge report(const std::string& name, const std::string& run_id) {
  ReportToMerge r;
  r.name = name;
  r.context.title = "glmh bench scenarios/gpu.csv";
  r.context.run_id = run_id;
  r.context.scenario_file = "scenarios/gpu.csv";
  r.context.facts = {{"glmh revision", "abc123"}, {"libtorch", "2.11.0"}, {"host / cpu", "vm / x"},
                     {"NCCL environment", "NCCL_NVLS_ENABLE=0"}, {"devices", "NVIDIA H200"}};
  return r;
}

ScenarioOutcome timed(const std::string& name, int world, double denoise_s, double total_s) {
  ScenarioOutcome o;
  o.scenario.name = name;
  o.scenario.world_size = world;
  o.passed = true;
  o.performance = {{"glm_image.denoising:p50", denoise_s}, {"end_to_end:p50", total_s}};
  return o;
}

TEST(MergedReport, LayoutsOfALaterRunGetTheirSpeedupOverTheFirstRunsSingleRankScenario) {
  ReportToMerge a = report("r/part1", "run-1"), b = report("r/part2", "run-2");
  a.context.facts["world sizes"] = "1, 2";
  b.context.facts["world sizes"] = "2";
  a.outcomes = {timed("single-1024", 1, 6.0, 13.0), timed("g2-cfg2-1024", 2, 3.0, 10.0)};
  b.outcomes = {timed("g2-sp2-ulysses-1024", 2, 4.0, 11.0)};
  // What each run computed on its own is dropped; a cache figure of the run is kept.
  b.outcomes[0].performance.emplace_back("speedup:glm_image.denoising", 99.0);
  b.outcomes[0].performance.emplace_back("speedup:over_uncached", 1.7);
  const MergedReport m = merge_reports({a, b}, "run-merged");
  ASSERT_EQ(m.outcomes.size(), 3u);
  EXPECT_EQ(m.outcomes[2].scenario.name, "g2-sp2-ulysses-1024");
  EXPECT_DOUBLE_EQ(m.outcomes[2].figure("speedup:glm_image.denoising"), 1.5);
  EXPECT_DOUBLE_EQ(m.outcomes[2].figure("efficiency:glm_image.denoising"), 0.75);
  EXPECT_DOUBLE_EQ(m.outcomes[2].figure("speedup:end_to_end"), 13.0 / 11.0);
  EXPECT_DOUBLE_EQ(m.outcomes[2].figure("speedup:over_uncached"), 1.7);
  int speedups = 0;
  for (const auto& [name, value] : m.outcomes[2].performance) speedups += name == "speedup:glm_image.denoising";
  EXPECT_EQ(speedups, 1);
  EXPECT_DOUBLE_EQ(m.outcomes[1].figure("speedup:glm_image.denoising"), 2.0);
  EXPECT_EQ(m.context.run_id, "run-merged");
  EXPECT_EQ(m.context.facts.at("merged from"), "run-1, run-2");
  EXPECT_EQ(m.context.facts.at("world sizes"), "1, 2");
  EXPECT_NE(m.context.title.find("merged from 2 runs"), std::string::npos);
}

TEST(MergedReport, RefusesRunsOfAnotherBuildNamingBothReportsAndTheFact) {
  ReportToMerge a = report("r/part1", "run-1"), b = report("r/part2", "run-2");
  b.context.facts["glmh revision"] = "def456";
  try {
    merge_reports({a, b}, "m");
    FAIL() << "merged two builds";
  } catch (const ReportDataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("r/part2 and r/part1 differ in glmh revision"), std::string::npos) << what;
  }
}

TEST(MergedReport, RefusesAScenarioThatTwoRunsRan) {
  ReportToMerge a = report("r/part1", "run-1"), b = report("r/part2", "run-2");
  a.outcomes = {timed("single-1024", 1, 6.0, 13.0)};
  b.outcomes = {timed("single-1024", 1, 6.1, 13.1)};
  try {
    merge_reports({a, b}, "m");
    FAIL() << "merged a scenario twice";
  } catch (const ReportDataError& e) {
    EXPECT_NE(std::string(e.what()).find("'single-1024' is in both r/part1 and r/part2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace glmh
