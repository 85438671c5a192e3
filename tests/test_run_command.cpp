// glmh run, the program, on the tiny preset over Gloo: a layout's run and its files, every fault
// mode detected by the check it exists for (exit 1, with the expected words), a fault that could
// never fire refused (exit 2), and the launcher's own single-rank reference. The whole layout
// matrix (tp, sp with Ulysses/Ring/USP, cfg, AR strategies, padding, image to image) runs in CI
// through glmh validate on scenarios/ci.csv (the GlmhValidate.CiScenarios test).
#include <gtest/gtest.h>

#include <map>

#include "harness/reports/report_writers.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

const std::string kPrompt = "A poster that says \"glmh\"";

struct Size {
  int height, width;
  std::string name() const { return std::to_string(height) + "x" + std::to_string(width); }
};
// Tiny preset, 16 pixels per token row: 64x96 has 4 token rows, 96x64 has 6.
const Size kWide{64, 96}, kTall{96, 64};

// status and detail of each check in a run's results.csv, read by the report code that wrote it
std::map<std::string, std::pair<std::string, std::string>> read_results(const std::string& path) {
  std::map<std::string, std::pair<std::string, std::string>> checks;
  const auto runs = read_results_csv(path);
  EXPECT_EQ(runs.size(), 1u) << path;
  for (const auto& run : runs)
    for (const auto& c : run.checks) checks[c.name] = {status_name(c.status), c.detail};
  return checks;
}

class RunCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!backend_available(CommBackend::Gloo)) return;
    dir_ = new testing::TempDir();
    for (const Size& size : {kWide, kTall}) {
      const auto r = run_glmh(size, {"--world-size", "1"}, reference(size));
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU ranks";
  }

  static std::string reference(const Size& size) { return dir_->path() + "/reference-" + size.name(); }

  static testing::ProcessResult run_glmh(const Size& size, std::vector<std::string> layout, const std::string& out) {
    std::vector<std::string> argv = {GLMH_BINARY, "run", "--model", "tiny", "--prompt", kPrompt, "--height",
                                     std::to_string(size.height), "--width", std::to_string(size.width), "--steps", "2",
                                     "--out", out, "--timeout", "60"};
    argv.insert(argv.end(), layout.begin(), layout.end());
    return testing::run_process(argv, std::chrono::seconds(240));
  }

  // A layout run against the single-rank reference: exit 0 and every check passes.
  void expect_layout_passes(const Size& size, std::vector<std::string> layout) {
    const std::string out = dir_->path() + "/run-" + std::to_string(counter_++);
    layout.insert(layout.end(), {"--reference", reference(size)});
    const auto r = run_glmh(size, layout, out);
    std::string label = size.name();
    for (const auto& a : layout) label += " " + a;
    EXPECT_EQ(r.exit_code, 0) << label << "\n" << r.output;
    const auto checks = read_results(out + "/results.csv");
    for (const char* name : {"request_equality", "token_equality", "rotary_sharding", "output_parity", "image_parity"}) {
      ASSERT_TRUE(checks.count(name)) << label << ": no " << name << " row";
      EXPECT_EQ(checks.at(name).first, "pass") << label << ": " << name << ": " << checks.at(name).second;
    }
    for (const char* file : {"/latents.safetensors", "/prior_tokens.safetensors", "/image.png", "/run.json"})
      EXPECT_TRUE(posix_fs::exists(out + file)) << label << ": " << file;
  }

  // A fault run: exit 1 with `check` failed (and its detail containing `words`).
  void expect_fault_detected(std::vector<std::string> layout, const std::string& check, const std::string& words) {
    const std::string out = dir_->path() + "/fault-" + std::to_string(counter_++);
    layout.insert(layout.end(), {"--reference", reference(kWide)});
    const auto r = run_glmh(kWide, layout, out);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_LT(r.seconds, 120) << "a fault must end the run in bounded time";
    const auto checks = read_results(out + "/results.csv");
    ASSERT_TRUE(checks.count(check)) << r.output;
    EXPECT_EQ(checks.at(check).first, "fail") << checks.at(check).second;
    EXPECT_NE(checks.at(check).second.find(words), std::string::npos) << checks.at(check).second;
  }

  static testing::TempDir* dir_;
  static int counter_;
};
testing::TempDir* RunCommand::dir_ = nullptr;
int RunCommand::counter_ = 0;

TEST_F(RunCommand, ALayoutPassesEveryCheckAndWritesItsFiles) {
  expect_layout_passes(kTall, {"--world-size", "4", "--tp", "2", "--sp", "2", "--ring", "2"});
}

TEST_F(RunCommand, EveryFaultModeIsDetected) {
  expect_fault_detected({"--world-size", "2", "--sp", "2", "--fault", "unsharded-rope"}, "rotary_sharding",
                        "cos has 24 rows, expected 12");
  expect_fault_detected({"--world-size", "2", "--sp", "2", "--fault", "ar-per-rank-seed"}, "token_equality",
                        "tokens differ from rank 0's");
  expect_fault_detected({"--world-size", "4", "--sp", "2", "--cfg", "2", "--fault", "cfg-rank-source"},
                        "token_equality", "tokens differ from rank 0's");
  expect_fault_detected({"--world-size", "2", "--sp", "2", "--ring", "2", "--fault", "ring-prefix-no-rotate"},
                        "output_parity", "max |latents - single-rank|");
  expect_fault_detected({"--world-size", "2", "--sp", "2", "--fault", "skip-broadcast"}, "token_equality",
                        "holds no prior tokens");
}

TEST_F(RunCommand, AFaultThatCouldNeverFireIsRefused) {
  const std::string out = dir_->path() + "/refused";
  const auto r = run_glmh(kWide, {"--world-size", "2", "--sp", "2", "--fault", "ring-prefix-no-rotate"}, out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("ring-prefix-no-rotate needs ring > 1"), std::string::npos) << r.output;
  const auto greedy = run_glmh(kWide, {"--world-size", "2", "--sp", "2", "--fault", "ar-per-rank-seed", "--greedy"}, out);
  EXPECT_EQ(greedy.exit_code, 2) << greedy.output;
}

TEST_F(RunCommand, WithoutAReferenceTheLauncherRunsTheSingleRankRunFirst) {
  const std::string out = dir_->path() + "/self-referenced";
  const auto r = run_glmh(kWide, {"--world-size", "2", "--sp", "2", "--golden", "none"}, out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(posix_fs::exists(out + "/reference/latents.safetensors"));
  EXPECT_EQ(read_results(out + "/results.csv").at("output_parity").first, "pass");
  // The report says that the binary under test made its own reference.
  EXPECT_NE(testing::read_text(out + "/summary.md").find("computed by the binary under test"), std::string::npos);
}

TEST_F(RunCommand, WithoutAReferenceTheMatchingGoldenIsTheReference) {
  const std::string store = std::string(GLMH_SOURCE_DIR) + "/golden/scenarios";
  const std::string out = dir_->path() + "/golden-referenced";
  const auto r = run_glmh(kWide, {"--world-size", "2", "--sp", "2", "--golden", store}, out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(posix_fs::exists(out + "/reference")) << "computed a reference although a golden matches";
  EXPECT_NE(r.output.find("the single-rank reference is the golden " + store + "/tiny-t2i-64x96-s2-g1.5-seed42-fp32-cpu-"),
            std::string::npos) << r.output;
  EXPECT_NE(testing::read_text(out + "/summary.md").find("| run | golden tiny-t2i-64x96-s2-g1.5-seed42-fp32-cpu-"),
            std::string::npos);
  // Sampling the key does not cover: no golden matches, the launcher computes the reference.
  const auto greedy = run_glmh(kWide, {"--world-size", "2", "--sp", "2", "--golden", store, "--greedy"}, out + "-greedy");
  EXPECT_EQ(greedy.exit_code, 0) << greedy.output;
  EXPECT_TRUE(posix_fs::exists(out + "-greedy/reference/latents.safetensors"));
}

}  // namespace
}  // namespace glmh
