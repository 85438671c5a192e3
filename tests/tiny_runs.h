// glmh run on the tiny preset as a child process, for the program-level tests: one single-rank
// reference shared by every test of the build (ctest runs each test case as its own process, so
// it is made once per glmh binary under the build's test cache and passed through --reference;
// each run is then only its own layout), a fresh run directory per run, and a check that no rank
// process outlives its run.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"

namespace glmh::testing {

class TinyRuns : public ::testing::Test {
 protected:
  // 64 x 64 pixels: a 4 x 4 grid of DiT tokens, 4 + 1 AR tokens; three denoise steps.
  static std::vector<std::string> request_args() {
    return {"--model", "tiny", "--height", "64", "--width", "64", "--steps", "3", "--prompt", "A sign that says \"glmh\""};
  }
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    if (!backend_available(CommBackend::Gloo)) return;  // no CPU reference: the GPU tests make their own
    // Keyed by the binary, so a rebuilt glmh never meets a reference made by an older one.
    struct stat binary {};
    ::stat(GLMH_BINARY, &binary);
    reference_ = std::string(GLMH_TEST_CACHE_DIR) + "/tiny-reference-" + std::to_string(binary.st_mtime) + "-" +
                 std::to_string(binary.st_size);
    if (posix_fs::exists(reference_ + "/latents.safetensors")) return;
    posix_fs::make_directories(GLMH_TEST_CACHE_DIR);
    const std::string scratch = posix_fs::make_temp_directory(GLMH_TEST_CACHE_DIR, "making-");
    std::vector<std::string> argv{GLMH_BINARY, "run", "--out", scratch + "/run"};
    for (const auto& a : request_args()) argv.push_back(a);
    const ProcessResult r = run_process(argv, std::chrono::seconds(120));
    // Whoever renames first wins; a test case running beside this one may have made it too.
    if (r.exit_code == 0) ::rename((scratch + "/run").c_str(), reference_.c_str());
    posix_fs::remove_tree(scratch);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(posix_fs::exists(reference_ + "/latents.safetensors"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: CPU ranks unavailable";
  }

  static const std::string& reference() { return reference_; }
  // This test's run directories live under here; the path doubles as a marker to find leftover
  // rank processes.
  std::string test_dir() const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    return dir_->path() + "/" + name;
  }
  // "glmh run" with the tiny request, the shared reference and `args`, into a fresh directory.
  ProcessResult run(const std::vector<std::string>& args, std::chrono::seconds limit = std::chrono::seconds(120)) {
    std::vector<std::string> with_reference{"--reference", reference()};
    with_reference.insert(with_reference.end(), args.begin(), args.end());
    return run_without_reference(with_reference, limit);
  }
  // The same without the shared reference (a multi-rank run then makes its own first).
  ProcessResult run_without_reference(const std::vector<std::string>& args,
                                      std::chrono::seconds limit = std::chrono::seconds(120)) {
    last_out_ = test_dir() + "/run-" + std::to_string(runs_++);
    std::vector<std::string> argv{GLMH_BINARY, "run", "--out", last_out_};
    for (const auto& a : request_args()) argv.push_back(a);
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = run_process(argv, limit);
    EXPECT_FALSE(r.timed_out) << r.output;
    return r;
  }
  const std::string& last_out() const { return last_out_; }
  void expect_no_leftover_ranks() {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(processes_with(test_dir()), std::vector<int>{}) << "rank processes left behind";
  }
  static bool contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
  }

  static TempDir* dir_;
  static std::string reference_;

 private:
  std::string last_out_;
  int runs_ = 0;
};
inline TempDir* TinyRuns::dir_ = nullptr;
inline std::string TinyRuns::reference_;

}  // namespace glmh::testing
