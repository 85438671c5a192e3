// glmh validate, the program: verdicts per scenario (pass, detect), the four report files, the
// INVALID verdict and exit 1 when a scenario misses its expectation, exit 2 with FILE:LINE:COLUMN
// for a malformed file before anything runs, and --list / --filter.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"

namespace glmh {
namespace {

using testing::contains;
using testing::read_text;

class ValidateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU ranks";
  }
  std::string write(const std::string& name, const std::string& text) { return testing::write_text(dir_.path(), name, text); }
  testing::ProcessResult validate(const std::string& scenarios, const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {GLMH_BINARY, "validate", "--scenarios", scenarios, "--out", out};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::run_process(argv, std::chrono::seconds(300));
  }
  testing::TempDir dir_;
};

const std::string kHeader = "name,height,width,steps,world_size,sp,ring,fault,min_psnr\n";

// expect=detect:CHECKS names exactly the checks that must fail: a fault caught by other checks
// (or by more) does not meet it.
TEST_F(ValidateCommand, ADetectionByOtherChecksThanTheNamedOnesFails) {
  const std::string file = write("named.csv",
                                 "name,height,width,steps,world_size,sp,ring,fault,expect\n"
                                 "named-right,64,96,2,2,2,2,ring-prefix-no-rotate,detect:output_parity+image_parity\n"
                                 "named-wrong,64,96,2,2,2,2,ring-prefix-no-rotate,detect:output_parity\n");
  const auto r = validate(file, dir_.path() + "/named");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "named-right: pass — fault ring-prefix-no-rotate caught by image_parity+output_parity, as expected"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "named-wrong: FAIL — fault ring-prefix-no-rotate caught by image_parity+output_parity, "
                                 "expected exactly output_parity"))
      << r.output;
}

TEST_F(ValidateCommand, PassAndDetectScenariosGiveAValidRunWithFourReports) {
  const std::string file = write("ok.csv", kHeader +
                                               "ring,64,96,2,2,2,2,,\n"
                                               "ring-fault,64,96,2,2,2,2,ring-prefix-no-rotate,\n");
  const std::string out = dir_.path() + "/ok";
  const auto r = validate(file, out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[2/2] ring-fault: pass — fault ring-prefix-no-rotate caught by image_parity+output_parity; output_parity"))
      << r.output;
  const std::string summary = read_text(out + "/summary.md");
  EXPECT_TRUE(contains(summary, "Result is : VALID")) << summary;
  EXPECT_TRUE(contains(summary, "| glmh revision |")) << summary;
  const std::string junit = read_text(out + "/junit.xml");
  EXPECT_TRUE(contains(junit, "<testcase classname=\"ring\" name=\"output_parity\"></testcase>")) << junit;
  EXPECT_TRUE(contains(junit, "detected as expected")) << junit;
  EXPECT_FALSE(contains(junit, "<failure")) << junit;
  const std::string csv = read_text(out + "/results.csv");
  EXPECT_TRUE(contains(csv, "ring,check,output_parity,pass,")) << csv;
  EXPECT_TRUE(contains(csv, "ring,stage,glm_image.denoising,na,")) << csv;
  const std::string html = read_text(out + "/report.html");
  EXPECT_TRUE(contains(html, "<svg")) << "no stage chart";
  EXPECT_TRUE(contains(html, "VALID"));
  EXPECT_TRUE(contains(html, "<img class=\"thumb sharp\" src=\"data:image/png;base64,")) << "no embedded image";
  // One reference for both scenarios (the same request).
  EXPECT_EQ(posix_fs::list_directory(out + "/references").size(), 2u);  // its directory and its log

  // glmh report renders the same four files again from outcomes.json.
  const std::string again = dir_.path() + "/again";
  const auto rr = testing::run_process({GLMH_BINARY, "report", out, "--out", again});
  EXPECT_EQ(rr.exit_code, 0) << rr.output;
  for (const char* f : {"/results.csv", "/summary.md", "/report.html", "/junit.xml"})
    EXPECT_EQ(read_text(again + f), read_text(out + f)) << f;
  EXPECT_EQ(testing::run_process({GLMH_BINARY, "report", dir_.path()}).exit_code, 2) << "no outcomes.json there";
}

TEST_F(ValidateCommand, AScenarioThatMissesItsExpectationMakesTheRunInvalid) {
  const std::string file = write("strict.csv", kHeader + "sp2-strict,64,96,2,2,2,2,,1000\n");
  const std::string out = dir_.path() + "/strict";
  const auto r = validate(file, out);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string summary = read_text(out + "/summary.md");
  EXPECT_TRUE(contains(summary, "Result is : INVALID")) << summary;
  EXPECT_TRUE(contains(summary, "- sp2-strict: 1 check(s) failed; image_parity")) << summary;
  EXPECT_TRUE(contains(read_text(out + "/junit.xml"), "<failure message=\"PSNR")) << read_text(out + "/junit.xml");
  EXPECT_TRUE(contains(read_text(out + "/report.html"), "difference ×")) << "image parity failed: a difference map";
}

TEST_F(ValidateCommand, AMalformedFileIsRefusedBeforeAnythingRuns) {
  const std::string file = write("bad.csv", kHeader + "fine,64,96,2,2,2,,,\nbad,64,96,2,3,2,,,\n");
  const std::string out = dir_.path() + "/bad";
  const auto r = validate(file, out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, file + ":3:5: world_size: invalid parallel layout: world size 3 != cfg 1 x tp 1 x sp 2 = 2"))
      << r.output;
  EXPECT_FALSE(posix_fs::exists(out)) << "nothing may run for a malformed file";
}

TEST_F(ValidateCommand, ListAndFilter) {
  const std::string file = write("list.csv", kHeader + "sp2-a,64,96,2,2,2,,,\nsp2-b,64,96,2,2,2,2,,\nother,64,96,2,1,1,,,\n");
  const auto r = validate(file, dir_.path() + "/list", {"--list", "--filter", "^sp2"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "sp2-a ") && contains(r.output, "sp2-b ")) << r.output;
  EXPECT_FALSE(contains(r.output, "other")) << r.output;
  const auto none = validate(file, dir_.path() + "/none", {"--filter", "nothing"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
}

}  // namespace
}  // namespace glmh
