// cache-dit's named step masks: glmh's expansion against what the released steps_mask() returns for
// every preset and every step count 4..100 (golden/cache/step_mask_presets.csv, written by
// scripts/reference/make_step_mask_goldens.py from the real releases), and a preset inside a cache
// configuration string.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/cache/dbcache.h"
#include "pipeline/cache/step_mask_presets.h"

namespace glmh {
namespace {

std::string digits(const std::vector<int>& mask) {
  std::string s;
  for (int v : mask) s += char('0' + v);
  return s;
}

TEST(StepMaskPresets, EveryPresetAtEveryStepCountIsTheReleasedOne) {
  std::ifstream in(std::string(GLMH_SOURCE_DIR) + "/golden/cache/step_mask_presets.csv");
  ASSERT_TRUE(in) << "golden/cache/step_mask_presets.csv is missing";
  std::string line;
  int compared = 0, refused = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("steps,", 0) == 0) continue;
    std::stringstream row(line);
    std::string steps, policy, expected;
    std::getline(row, steps, ',');
    std::getline(row, policy, ',');
    std::getline(row, expected, ',');
    if (expected == "refused") {
      EXPECT_THROW(step_mask_preset(policy, std::stoi(steps)), CacheConfigError) << steps << " " << policy;
      ++refused;
    } else {
      EXPECT_EQ(digits(step_mask_preset(policy, std::stoi(steps))), expected) << steps << " steps, " << policy;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 4 * 95);  // 4, 6 and 8..100
  EXPECT_EQ(refused, 4 * 2);    // 5 and 7
}

TEST(StepMaskPresets, AliasesNameThePresets) {
  EXPECT_EQ(step_mask_preset("f", 30), step_mask_preset("fast", 30));
  EXPECT_EQ(step_mask_preset("u", 50), step_mask_preset("ultra", 50));
  EXPECT_FALSE(step_mask_preset_name("quick"));
  EXPECT_THROW(step_mask_preset("quick", 30), CacheConfigError);
}

TEST(StepMaskPresets, APresetInAConfigStringIsExpandedForTheRunsSteps) {
  const CacheProfile profile = parse_cache_profile("cache-dit@1.5.3:DBCache_F2B1_W4I1M0MC0_R0.12_SCMfast_static_CFG1");
  EXPECT_EQ(profile.config.mask_preset, "fast");
  EXPECT_EQ(profile.describe(), "cache-dit@1.5.3:DBCache_F2B1_W4I1M0MC0_R0.12_SCMfast_static_CFG1");
  const CacheProfile for30 = profile.for_steps(30);
  EXPECT_EQ(digits(for30.config.steps_mask), "111111111010001000010000010001");
  // The expanded profile prints as cache-dit prints its configuration: the mask's digits.
  EXPECT_EQ(for30.describe(), "cache-dit@1.5.3:DBCache_F2B1_W4I1M0MC0_R0.12_SCM111111111010001000010000010001_static_CFG1");
  EXPECT_EQ(parse_cache_profile("DBCache_F1B0_W8I1M0MC0_R0.12_SCMs_dynamic").config.mask_preset, "slow");
  // An unexpanded preset cannot drive a cache, and a step count the preset lacks is refused by name.
  EXPECT_THROW(DbCache{profile}, CacheConfigError);
  try {
    profile.for_steps(5);
    ADD_FAILURE() << "5 steps accepted";
  } catch (const CacheConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("not 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_cache_profile("DBCache_F1B0_W8I1M0MC0_R0.12_SCMquick_static"), CacheConfigError);
}

}  // namespace
}  // namespace glmh
