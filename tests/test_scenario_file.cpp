// Scenario files: defaults, quoting, relative image paths, filters, and every malformed input
// ending in one FILE:LINE:COLUMN error before anything runs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "harness/checks/check_names.h"
#include "harness/scenarios/scenario_file.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

class ScenarioFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    const std::string path = dir_.path() + "/s" + std::to_string(counter_++) + ".csv";
    std::ofstream(path) << text;
    return path;
  }
  // The error message of reading `text`, with the file's path replaced by FILE.
  std::string error_of(const std::string& text) {
    const std::string path = write(text);
    try {
      read_scenario_file(path);
    } catch (const ScenarioFileError& e) {
      std::string m = e.what();
      return m.rfind(path, 0) == 0 ? "FILE" + m.substr(path.size()) : m;
    }
    return "no error";
  }
  testing::TempDir dir_;
  int counter_ = 0;
};

TEST_F(ScenarioFile, EmptyCellsTakeDefaultsAndQuotedCellsKeepCommas) {
  const auto s = read_scenario_file(write(
      "# a comment\nname,prompt,tp,sp,ring,height,width\n"
      "a,,,,,,\n"
      "b,\"A sign that says \"\"hi, there\"\"\",2,2,2,64,96\n"));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].model, "tiny");
  EXPECT_EQ(s[0].world_size, 1);
  EXPECT_EQ(s[0].expect, "pass");
  EXPECT_EQ(s[0].height, 1024);
  EXPECT_EQ(s[1].prompt, "A sign that says \"hi, there\"");
  EXPECT_EQ(s[1].world_size, 4);  // cfg x tp x sp
  EXPECT_EQ(s[1].file_line, 4);
  EXPECT_EQ(s[0].reference_key(), read_scenario_file(write("name,tp\nz,2\n"))[0].reference_key());
  EXPECT_NE(s[0].reference_key(), s[1].reference_key());
}

TEST_F(ScenarioFile, FaultsExpectDetectionAndImagesAreRelativeToTheFile) {
  posix_fs::make_directories(dir_.path() + "/data");
  std::ofstream(dir_.path() + "/data/ref.png") << "png";
  const auto s = read_scenario_file(write(
      "name,sp,fault,task,image\n"
      "f,2,skip-broadcast,,\n"
      "i,1,,i2i,data/ref.png\n"));
  EXPECT_EQ(s[0].expect, "detect");
  EXPECT_TRUE(s[0].expected_catchers().empty());
  EXPECT_EQ(s[1].image, dir_.path() + "/data/ref.png");
  const auto named = read_scenario_file(write("name,sp,fault,expect\nf,2,skip-broadcast,detect:token_equality+request_equality\n"));
  EXPECT_EQ(named[0].expected_catchers(), (std::vector<std::string>{"request_equality", "token_equality"}));
}

TEST_F(ScenarioFile, ImagesStayInsideTheScenarioFilesFolderUnlessAllowed) {
  testing::TempDir elsewhere;
  std::ofstream(elsewhere.path() + "/secret.png") << "png";
  posix_fs::make_directories(dir_.path() + "/data");
  ASSERT_EQ(::symlink((elsewhere.path() + "/secret.png").c_str(), (dir_.path() + "/data/link.png").c_str()), 0);
  const std::string outside = "' lies outside the scenario file's folder ";
  for (const std::string& image : {elsewhere.path() + "/secret.png", "../" + elsewhere.path().substr(elsewhere.path().rfind('/') + 1) + "/secret.png",
                                   std::string("data/link.png")}) {
    const std::string csv = "name,task,image\na,i2i," + image + "\n";
    const std::string error = error_of(csv);
    EXPECT_EQ(error.rfind("FILE:2:3: image: '" + image + outside, 0), 0u) << error;
    EXPECT_NE(error.find("(--images-anywhere allows it)"), std::string::npos) << error;
    EXPECT_EQ(read_scenario_file(write(csv), {/*images_anywhere=*/true})[0].task, "i2i");
  }
  EXPECT_EQ(error_of("name,task,image\na,i2i,data/none.png\n").rfind("FILE:2:3: image: 'data/none.png' does not exist", 0), 0u);
}

TEST_F(ScenarioFile, EveryMalformedInputIsOneLineWithItsPosition) {
  EXPECT_EQ(error_of("name,tp,colour\na,1,red\n").substr(0, 40), "FILE:1:3: unknown column 'colour' (expec");
  EXPECT_EQ(error_of("name,height\na,100\n"), "FILE:2:2: height: expected a multiple of 32, got 100");
  EXPECT_EQ(error_of("name,steps\na,zero\n"), "FILE:2:2: steps: expected an integer >= 1, got 'zero'");
  EXPECT_EQ(error_of("name,guidance\na,-1\n").substr(0, 38), "FILE:2:2: guidance: expected a number ");
  EXPECT_EQ(error_of("name,device\na,tpu\n"), "FILE:2:2: device: expected one of cpu, cuda, got 'tpu'");
  EXPECT_EQ(error_of("name\na\na\n"), "FILE:3:1: name: 'a' is used twice");
  EXPECT_EQ(error_of("name\nhas space\n"), "FILE:2:1: name: expected letters, digits and _.+- only, got 'has space'");
  EXPECT_EQ(error_of("name,world_size,tp\na,3,2\n"),
            "FILE:2:2: world_size: invalid parallel layout: world size 3 != cfg 1 x tp 2 x sp 1 = 2");
  // (No world_size column here: the message points at column 1.)
  EXPECT_EQ(error_of("name,tp\na,3\n").substr(0, 46), "FILE:2:1: world_size: invalid parallel layout:");
  EXPECT_EQ(error_of("name,sp,fault\na,2,ring-prefix-no-rotate\n"),
            "FILE:2:3: fault: ring-prefix-no-rotate needs ring > 1");
  EXPECT_EQ(error_of("name,fault,expect\na,skip-broadcast,pass\n").substr(0, 20), "FILE:2:3: expect: a ");
  EXPECT_EQ(error_of("name,expect\na,detect\n"), "FILE:2:2: expect: detect needs a fault to detect");
  EXPECT_EQ(error_of("name,sp,fault,expect\na,2,skip-broadcast,detect:token_equality+vibes\n").substr(0, 60),
            "FILE:2:4: expect: no check is named 'vibes' (known: request_");
  EXPECT_EQ(error_of("name,sp,fault,expect\na,2,skip-broadcast,maybe\n"),
            "FILE:2:4: expect: 'maybe' is not pass, detect or detect:CHECK[+CHECK...]");
  EXPECT_EQ(error_of("name,task\na,i2i\n"), "FILE:2:1: image: task i2i needs a reference image");
  EXPECT_EQ(error_of("name,model\na,nowhere\n").substr(0, 42), "FILE:2:2: model: cannot open the model: --");
  EXPECT_EQ(error_of("name,tp\na,1,2\n").substr(0, 9), "FILE:2:1:");  // too many cells
  EXPECT_EQ(error_of("name,prompt\na,\"open\n").substr(0, 9), "FILE:2:1:");  // unclosed quote
  EXPECT_EQ(error_of("# only a comment\n").substr(0, 9), "FILE:1:1:");
}

TEST_F(ScenarioFile, FilterIsARegexOverNames) {
  const auto all = read_scenario_file(write("name,sp\nsp2-a,2\nsp2-b,2\ntp,1\n"));
  EXPECT_EQ(filter_scenarios(all, "^sp2").size(), 2u);
  EXPECT_EQ(filter_scenarios(all, "").size(), 3u);
  EXPECT_THROW(filter_scenarios(all, "(("), std::invalid_argument);
}

// Every check has a fault in CI's matrix that it alone catches (expect=detect:CHECK), so a check
// weakened until it no longer fires on that fault turns CI red; every fault names its catchers.
TEST(ScenarioSets, EveryCheckHasAFaultInCiThatOnlyItCatches) {
  const auto ci = read_scenario_file(std::string(GLMH_SOURCE_DIR) + "/scenarios/ci.csv");
  for (const auto& check : all_check_names()) {
    bool alone = false;
    for (const auto& s : ci) alone = alone || s.expected_catchers() == std::vector<std::string>{check};
    EXPECT_TRUE(alone) << "no fault scenario in scenarios/ci.csv expects detect:" << check << " alone";
  }
  for (const auto& s : ci)
    if (s.expects_detection()) EXPECT_FALSE(s.expected_catchers().empty()) << s.name << " does not name its catching checks";
}

TEST(ScenarioSets, Bf16CpuRequestsHaveNoGoldenAndTheStoreHoldsNone) {
  Scenario s;
  s.device = "cpu";
  EXPECT_TRUE(s.golden_portable());  // fp32 by default
  s.dtype = "bf16";
  EXPECT_FALSE(s.golden_portable());
  s.device = "cuda";
  EXPECT_TRUE(s.golden_portable());
  for (const auto& name : posix_fs::list_directory(std::string(GLMH_SOURCE_DIR) + "/golden/scenarios"))
    EXPECT_EQ(name.find("-bf16-cpu-"), std::string::npos) << name << " would never be used";
}

TEST(ScenarioSets, TheCommittedFilesParse) {
  EXPECT_GE(read_scenario_file(std::string(GLMH_SOURCE_DIR) + "/scenarios/ci.csv").size(), 20u);
  EXPECT_GE(read_scenario_file(std::string(GLMH_SOURCE_DIR) + "/scenarios/gpu.csv").size(), 15u);
  EXPECT_EQ(read_scenario_file(std::string(GLMH_SOURCE_DIR) + "/scenarios/gpu8.csv").size(), 15u);
}

}  // namespace
}  // namespace glmh
