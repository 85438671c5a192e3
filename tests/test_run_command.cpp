// glmh run, the program, on the tiny preset over Gloo: every parallel layout (tp, sp with Ulysses
// and Ring splits, cfg, the AR strategies; square and non-square; token rows that do not divide by
// sp) passes every check against the single-rank run, and every fault mode is detected (exit 1,
// the right check failed) or, where it could never fire, refused (exit 2).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "pipeline/runtime/communicator.h"
#include "png_image.h"
#include "pipeline/runtime/posix_fs.h"
#include "process_runner.h"
#include "temp_dir.h"

namespace glmh {
namespace {

const std::string kPrompt = "A poster that says \"glmh\"";

struct Size {
  int height, width;
  std::string name() const { return std::to_string(height) + "x" + std::to_string(width); }
};
// Tiny preset, 16 pixels per token row: 64x96 has 4 token rows, 96x64 has 6, 64x64 has 4.
const Size kWide{64, 96}, kTall{96, 64}, kSquare{64, 64};

// status and detail of each check in results.csv
std::map<std::string, std::pair<std::string, std::string>> read_results(const std::string& path) {
  std::map<std::string, std::pair<std::string, std::string>> checks;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string name, status, value, threshold, detail;
    std::getline(s, name, ',');
    std::getline(s, status, ',');
    std::getline(s, value, ',');
    std::getline(s, threshold, ',');
    std::getline(s, detail);
    if (name.rfind("stage_seconds:", 0) != 0) checks[name] = {status, detail};
  }
  return checks;
}

class RunCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!backend_available(CommBackend::Gloo)) return;
    dir_ = new testing::TempDir();
    for (const Size& size : {kWide, kTall, kSquare}) {
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

TEST_F(RunCommand, TwoRankLayouts) {
  expect_layout_passes(kWide, {"--world-size", "2", "--tp", "2"});
  expect_layout_passes(kWide, {"--world-size", "2", "--sp", "2"});
  expect_layout_passes(kWide, {"--world-size", "2", "--sp", "2", "--ring", "2"});
  expect_layout_passes(kWide, {"--world-size", "2", "--cfg", "2"});
  expect_layout_passes(kSquare, {"--world-size", "2", "--sp", "2", "--ring", "2"});
}

TEST_F(RunCommand, RowsThatDoNotDivideBySp) {
  expect_layout_passes(kWide, {"--world-size", "3", "--sp", "3", "--ring", "3"});   // 4 rows over 3
  expect_layout_passes(kTall, {"--world-size", "4", "--sp", "4"});                  // 6 rows over ulysses 4
  expect_layout_passes(kTall, {"--world-size", "4", "--sp", "4", "--ring", "4"});   // 6 rows over ring 4
}

TEST_F(RunCommand, FourRankLayouts) {
  expect_layout_passes(kWide, {"--world-size", "4", "--sp", "4", "--ulysses", "2", "--ring", "2"});
  expect_layout_passes(kWide, {"--world-size", "4", "--tp", "2", "--sp", "2"});
  expect_layout_passes(kWide, {"--world-size", "4", "--tp", "2", "--cfg", "2"});
  expect_layout_passes(kWide, {"--world-size", "4", "--sp", "2", "--cfg", "2"});
}

TEST_F(RunCommand, EightRankLayouts) {
  expect_layout_passes(kTall, {"--world-size", "8", "--tp", "2", "--sp", "4"});
  expect_layout_passes(kWide, {"--world-size", "8", "--tp", "2", "--sp", "2", "--ring", "2", "--cfg", "2"});
  expect_layout_passes(kTall, {"--world-size", "8", "--sp", "8", "--ulysses", "2", "--ring", "4"});  // 6 rows over 8
}

TEST_F(RunCommand, ArStrategies) {
  expect_layout_passes(kWide, {"--world-size", "4", "--sp", "2", "--cfg", "2", "--ar-strategy", "replicated"});
  expect_layout_passes(kWide, {"--world-size", "4", "--tp", "2", "--sp", "2", "--ar-strategy", "main-rank"});
  expect_layout_passes(kWide, {"--world-size", "2", "--tp", "2", "--ar-strategy", "tp"});
  expect_layout_passes(kTall, {"--world-size", "8", "--tp", "2", "--sp", "2", "--cfg", "2", "--ar-strategy", "tp"});
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

// Image to image: the reference image's DiT KV cache is a keys-only prefix of every rank's
// attention (parallelism.md §4's [risk]: q and k differ in length), under Ulysses, Ring and TP.
TEST_F(RunCommand, ImageToImageUnderSequenceAndTensorParallelism) {
  const std::string ref_png = dir_->path() + "/i2i-ref.png";
  write_png(ref_png, (at::arange(512 * 512 * 3, at::kLong).view({512, 512, 3}) * 37 % 251).to(at::kByte));
  const std::string single = dir_->path() + "/i2i-single";
  const auto r = run_glmh(kWide, {"--world-size", "1", "--image", ref_png}, single);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (std::vector<std::string> layout : {std::vector<std::string>{"--world-size", "2", "--sp", "2"},
                                          {"--world-size", "2", "--sp", "2", "--ring", "2"},
                                          {"--world-size", "4", "--tp", "2", "--sp", "2", "--cfg", "1"}}) {
    const std::string out = dir_->path() + "/i2i-" + std::to_string(counter_++);
    layout.insert(layout.end(), {"--image", ref_png, "--reference", single});
    const auto run = run_glmh(kWide, layout, out);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    const auto checks = read_results(out + "/results.csv");
    ASSERT_TRUE(checks.count("output_parity")) << run.output;
    EXPECT_EQ(checks.at("output_parity").first, "pass") << checks.at("output_parity").second;
  }
}

TEST_F(RunCommand, WithoutAReferenceTheLauncherRunsTheSingleRankRunFirst) {
  const std::string out = dir_->path() + "/self-referenced";
  const auto r = run_glmh(kWide, {"--world-size", "2", "--sp", "2"}, out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(posix_fs::exists(out + "/reference/latents.safetensors"));
  EXPECT_EQ(read_results(out + "/results.csv").at("output_parity").first, "pass");
}

}  // namespace
}  // namespace glmh
