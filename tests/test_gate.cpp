// glmh gate: the bounds (latency above max(b(1+rel), b+abs), ratios below min(b(1-rel), b-abs)),
// default tolerances per metric, failed scenarios always failing, CPU absolute times never gated,
// a missing metric failing, malformed baselines refused with their line; and the program failing
// on a deliberately regressed baseline.
#include <gtest/gtest.h>

#include <fstream>

#include "harness/commands/gate_command.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

TEST(Gate, BoundsFollowUpstreamsRule) {
  BaselineRow latency{"s", "glm_image.denoising", 2.0, 0.1, 0.5, GateDirection::LowerIsBetter};
  EXPECT_DOUBLE_EQ(gate_bound(latency), 2.5);  // max(2.2, 2.5)
  latency.abs = 0.05;
  EXPECT_DOUBLE_EQ(gate_bound(latency), 2.2);  // max(2.2, 2.05)
  BaselineRow speedup{"s", "speedup:glm_image.denoising", 1.8, 0.1, 0.0, GateDirection::HigherIsBetter};
  EXPECT_DOUBLE_EQ(gate_bound(speedup), 1.62);
  EXPECT_EQ(default_direction("speedup:end_to_end"), GateDirection::HigherIsBetter);
  EXPECT_EQ(default_direction("efficiency:glm_image.denoising"), GateDirection::HigherIsBetter);
  EXPECT_EQ(default_direction("glm_image.ar"), GateDirection::LowerIsBetter);
  EXPECT_EQ(default_tolerance("run_total"), std::make_pair(0.10, 0.5));
  EXPECT_EQ(default_tolerance("denoise_step_p50"), std::make_pair(0.10, 0.002));
  // The statistics of a timed metric take its tolerance (bench writes end_to_end:p50).
  EXPECT_EQ(default_tolerance("end_to_end:p50"), std::make_pair(0.10, 0.5));
  EXPECT_EQ(default_tolerance("denoise_step:p90"), std::make_pair(0.10, 0.002));
  EXPECT_EQ(default_tolerance("glm_image.ar:p50"), std::make_pair(0.25, 0.05));
  EXPECT_EQ(default_tolerance("speedup:end_to_end"), std::make_pair(0.10, 0.0));
}

TEST(Gate, VerdictsForEachKindOfRow) {
  GateInputs in;
  in.devices = {{"gpu-a", "cuda"}, {"cpu-a", "cpu"}};
  in.metrics = {{{"gpu-a", "glm_image.denoising"}, 2.3},
                {{"gpu-a", "speedup:glm_image.denoising"}, 1.5},
                {{"cpu-a", "glm_image.denoising"}, 99.0},
                {{"cpu-a", "speedup:glm_image.denoising"}, 1.7}};
  const std::vector<BaselineRow> baseline = {
      {"gpu-a", "glm_image.denoising", 2.0, 0.1, 0.0, GateDirection::LowerIsBetter},          // 2.3 > 2.2: fail
      {"gpu-a", "speedup:glm_image.denoising", 1.8, 0.1, 0.0, GateDirection::HigherIsBetter},  // 1.5 < 1.62: fail
      {"cpu-a", "glm_image.denoising", 1.0, 0.1, 0.0, GateDirection::LowerIsBetter},          // CPU time: not gated
      {"cpu-a", "speedup:glm_image.denoising", 1.8, 0.1, 0.0, GateDirection::HigherIsBetter},  // 1.7 >= 1.62: ok
      {"gpu-a", "glm_image.decoding", 1.0, 0.1, 0.0, GateDirection::LowerIsBetter}};          // missing: fail
  const auto v = apply_gate(in, baseline);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_FALSE(v[0].passed);
  EXPECT_FALSE(v[1].passed);
  EXPECT_TRUE(v[2].passed);
  EXPECT_NE(v[2].detail.find("not gated"), std::string::npos);
  EXPECT_TRUE(v[3].passed);
  EXPECT_FALSE(v[4].passed);
  EXPECT_EQ(v[4].detail, "missing from the results");
  in.failed_scenarios = {{"gpu-b", "1 check(s) failed"}};
  const auto with_failure = apply_gate(in, {});
  ASSERT_EQ(with_failure.size(), 1u);
  EXPECT_FALSE(with_failure[0].passed);
}

class GateProgram : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  testing::TempDir dir_;
};

const std::string kResults =
    "scenario,kind,name,status,value,threshold,detail\n"
    "sp2,info,device,na,,,cuda\n"
    "sp2,verdict,pass,pass,0,,every check passed\n"
    "sp2,check,output_parity,pass,0.9995,0.999,cosine\n"
    "sp2,timing,glm_image.denoising,na,8.4,,seconds\n"
    "sp2,speedup,speedup:glm_image.denoising,na,1.85,,ratio\n";

TEST_F(GateProgram, PassesWithinTheBaselineAndFailsOnARegressedOne) {
  const std::string results = write("results.csv", kResults);
  const std::string ok = write("ok.csv", "scenario,metric,baseline,rel,abs\nsp2,glm_image.denoising,8.0,0.1,0.5\n"
                                         "sp2,speedup:glm_image.denoising,1.9,0.1,\n");
  auto r = testing::run_process({GLMH_BINARY, "gate", "--results", results, "--baseline", ok});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("# Gate : OK"), std::string::npos) << r.output;
  // The same results against a baseline that says the denoising took 6 s: 8.4 > max(6.6, 6.5).
  const std::string regressed = write("regressed.csv", "scenario,metric,baseline,rel,abs\nsp2,glm_image.denoising,6.0,0.1,0.5\n");
  r = testing::run_process({GLMH_BINARY, "gate", "--results", results, "--baseline", regressed});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# Gate : FAILED (1)"), std::string::npos) << r.output;
}

TEST_F(GateProgram, AFailedScenarioAlwaysFails) {
  std::string text = kResults;
  text.replace(text.find("sp2,verdict,pass,pass"), 21, "sp2,verdict,pass,fail");
  const auto r = testing::run_process({GLMH_BINARY, "gate", "--results", write("r.csv", text), "--baseline",
                                       write("b.csv", "scenario,metric,baseline\n")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("correctness"), std::string::npos) << r.output;
}

TEST_F(GateProgram, AMalformedBaselineNamesItsLine) {
  const std::string bad = write("bad.csv", "scenario,metric,baseline\nsp2,glm_image.denoising,fast\n");
  const auto r = testing::run_process({GLMH_BINARY, "gate", "--results", write("r.csv", kResults), "--baseline", bad});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(bad + ":2: baseline: expected a number, got 'fast'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace glmh
