// glmh golden: generate writes once and never overwrites; verify passes on an untouched store and
// fails on a tampered golden or a missing one; update swaps atomically and keeps the previous
// version; a failed update leaves the store as it was.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

using testing::contains;
using testing::read_text;

class GoldenCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU rank";
    scenarios_ = dir_.path() + "/s.csv";
    std::ofstream(scenarios_) << "name,height,width,steps,sp,world_size\none,64,96,2,1,1\ntwo,64,96,2,2,2\n";
    store_ = dir_.path() + "/store";
  }
  testing::ProcessResult golden(const std::string& action, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {GLMH_BINARY, "golden", action, "--scenarios", scenarios_, "--golden", store_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::run_process(argv, std::chrono::seconds(120));
  }
  // The one key both scenarios share.
  std::string key_dir() const {
    const auto names = posix_fs::list_directory(store_);
    for (const auto& n : names)
      if (n.find(".previous-") == std::string::npos && n[0] != '.') return store_ + "/" + n;
    return "";
  }
  testing::TempDir dir_;
  std::string scenarios_, store_;
};

TEST_F(GoldenCommand, GenerateWritesOnceVerifyChecksUpdateKeepsThePrevious) {
  auto r = golden("generate");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("written (2 scenario(s))"), std::string::npos) << r.output;
  const std::string dir = key_dir();
  for (const char* f : {"/latents.safetensors", "/prior_tokens.safetensors", "/image.png", "/provenance.json"})
    EXPECT_TRUE(posix_fs::exists(dir + f)) << f;
  const std::string provenance = read_text(dir + "/provenance.json");
  for (const char* field : {"\"glmh_revision\"", "\"libtorch\"", "\"seed\": 42", "\"dtype\": \"fp32\"", "\"device\": \"cpu\""})
    EXPECT_NE(provenance.find(field), std::string::npos) << field << " in " << provenance;

  r = golden("generate");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("exists, left as it is"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(dir + "/provenance.json"), provenance) << "generate overwrote a golden";

  r = golden("verify");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("matches"), std::string::npos) << r.output;

  // Tamper with the stored latents: verify must fail.
  const std::string latents = dir + "/latents.safetensors";
  at::Tensor t = SafetensorsFile::open(latents)->tensor("latents").clone();
  t.view({-1})[0] += 1.0f;
  write_safetensors(latents, {{"latents", t}});
  r = golden("verify");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("DIFFERS"), std::string::npos) << r.output;

  // A failed update (its run stopped after 1 s) leaves the store as it was.
  const std::string before = read_text(latents);
  r = golden("update", {"--timeout", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("store unchanged"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(latents), before);

  // A real update: the new golden in place, the tampered one kept as the previous version.
  r = golden("update");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("the previous version is"), std::string::npos) << r.output;
  EXPECT_EQ(golden("verify").exit_code, 0);
  int previous = 0;
  for (const auto& n : posix_fs::list_directory(store_))
    if (n.find(".previous-") != std::string::npos) {
      ++previous;
      EXPECT_EQ(read_text(store_ + "/" + n + "/latents.safetensors"), before);
    }
  EXPECT_EQ(previous, 1);
}

TEST_F(GoldenCommand, VerifyFailsWithoutAGolden) {
  const auto r = golden("verify");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no golden"), std::string::npos) << r.output;
}

// bf16 on the CPU rounds differently from CPU to CPU: no golden is written or expected for it.
TEST_F(GoldenCommand, KeepsNoGoldenOfABf16CpuRequest) {
  std::ofstream(scenarios_) << "name,height,width,steps,dtype\nhalf,64,96,2,bf16\n";
  for (const char* action : {"generate", "verify"}) {
    const auto r = golden(action);
    EXPECT_EQ(r.exit_code, 0) << action << ": " << r.output;
    EXPECT_TRUE(contains(r.output, "no golden: bf16 on the CPU")) << action << ": " << r.output;
  }
  EXPECT_EQ(key_dir(), "") << "a bf16 CPU golden was written";
}

}  // namespace
}  // namespace glmh
