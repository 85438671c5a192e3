// results.csv, the one result format of glmh run, validate and bench: what results_csv_text writes
// read_results_csv reads back (verdict, checks, stage times, run total, timed figures), several
// scenarios in order; a malformed file is refused naming its line.
#include <gtest/gtest.h>

#include <fstream>

#include "harness/reports/report_writers.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

ScenarioOutcome outcome(const std::string& name, bool passed) {
  ScenarioOutcome o;
  o.scenario.name = name;
  o.scenario.device = "cpu";
  o.scenario.expect = passed ? "pass" : "detect";
  o.passed = passed;
  o.exit_code = passed ? 0 : 1;
  o.reason = passed ? "every check passed" : "fault not detected, \"quoted\", with a comma";
  o.seconds = 12.5;
  o.checks = {{"token_equality", CheckStatus::Pass, 0, 0, "identical on 2 ranks"},
              {"output_parity", CheckStatus::Fail, 0.25, 1e-4, "max |a - b| = 0.25, worst on rank 1"},
              {"image_parity", CheckStatus::NotApplicable, 0, 0, "not run"}};
  o.stage_seconds = {{"glm_image.ar", 0.75}, {"glm_image.denoising", 3.5}};
  o.performance = {{"glm_image.denoising:p50", 3.25}, {"speedup:end_to_end", 1.5}, {"amdahl:end_to_end", 1.75}};
  return o;
}

TEST(ResultsCsv, WhatIsWrittenIsReadBack) {
  testing::TempDir dir;
  const std::vector<ScenarioOutcome> written = {outcome("sp2", true), outcome("ring-fault", false)};
  const std::string path = dir.path() + "/results.csv";
  std::ofstream(path) << results_csv_text(written);
  const std::vector<ScenarioOutcome> read = read_results_csv(path);
  ASSERT_EQ(read.size(), written.size());
  for (size_t i = 0; i < read.size(); ++i) {
    const ScenarioOutcome &a = read[i], &b = written[i];
    EXPECT_EQ(a.scenario.name, b.scenario.name);
    EXPECT_EQ(a.scenario.device, b.scenario.device);
    EXPECT_EQ(a.scenario.expect, b.scenario.expect);
    EXPECT_EQ(a.passed, b.passed);
    EXPECT_EQ(a.exit_code, b.exit_code);
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.seconds, b.seconds);
    ASSERT_EQ(a.checks.size(), b.checks.size());
    for (size_t c = 0; c < a.checks.size(); ++c) {
      EXPECT_EQ(a.checks[c].name, b.checks[c].name);
      EXPECT_EQ(a.checks[c].status, b.checks[c].status);
      EXPECT_DOUBLE_EQ(a.checks[c].value, b.checks[c].value);
      EXPECT_DOUBLE_EQ(a.checks[c].threshold, b.checks[c].threshold);
      EXPECT_EQ(a.checks[c].detail, b.checks[c].detail);
    }
    EXPECT_EQ(a.stage_seconds, b.stage_seconds);
    EXPECT_EQ(a.performance, b.performance);
  }
}

TEST(ResultsCsv, AMalformedFileIsRefusedNamingTheLine) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/results.csv";
  std::ofstream(path) << "scenario,kind,name,status,value,threshold,detail\n"
                         "sp2,check,output_parity,pass,0.5,1e-4,ok\n"
                         "sp2,check,token_equality,maybe,,,\n";
  try {
    read_results_csv(path);
    FAIL() << "accepted a status that is not pass, fail or na";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: status 'maybe'"), std::string::npos) << e.what();
  }
  std::ofstream(path) << "scenario,kind,name,status,value,threshold,detail\nsp2,stage,glm_image.ar,na,fast,,\n";
  EXPECT_THROW(read_results_csv(path), std::runtime_error);
  std::ofstream(path) << "scenario,kind,name,status,value,threshold,detail\nsp2,frobnicate,x,na,,,\n";
  EXPECT_THROW(read_results_csv(path), std::runtime_error);
}

}  // namespace
}  // namespace glmh
