// DBCache with cache-dit's rules, on its own (no model): cache-dit's printed configuration strings
// read and printed back per release; the cache profiles; the cached-step schedules each release's
// rules give (docs/cache-dit-releases.md#39, including where 1.5.2 and 1.5.3 differ); TaylorSeer's
// forecasts. Whether glmh reproduces the real releases end to end is test_cache_goldens' job.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <set>
#include <string>
#include <vector>

#include "pipeline/cache/dbcache.h"

namespace glmh {
namespace {

TEST(DbCacheConfig, CacheDitsPrintedStringsReadBackAndPrintAgain) {
  const std::vector<std::pair<std::string, bool>> printed = {
      {"DBCache_F8B0_W8I1M0MC0_R0.08", true},
      {"DBCache_F1B0_W8I1M0MC3_R0.12_CFG1", true},
      {"DBCache_F1B0_W8I1M0MC3_R0.12_FR1_CFG1", false},       // 1.2.x
      {"DBCache_F1B0_W8I1M0MC3_R0.12_FR1_once_CFG1", true},   // 1.3.0 on
      {"DBCache_F2B1_W4I1M0MC4_R0.4_CFG1", true},
      {"DBCache_F1B0_W8I1M0MC3_R0.12_SCM11110101_dynamic_N8_CFG1", true},
      {"DBCache_F8B0_W2I2M10MC0_R1", true},
  };
  for (const auto& [text, prints_policy] : printed) EXPECT_EQ(DbCacheConfig::parse(text).strify(prints_policy), text);
  const DbCacheConfig c = DbCacheConfig::parse("DBCache_F2B1_W4I1M0MC4_R0.4_CFG1_T1O2_S17");
  EXPECT_EQ(c.fn, 2);
  EXPECT_EQ(c.bn, 1);
  EXPECT_EQ(c.max_warmup_steps, 4);
  EXPECT_EQ(c.max_cached_steps, -1);
  EXPECT_EQ(c.max_continuous_cached_steps, 4);
  EXPECT_DOUBLE_EQ(c.residual_diff_threshold, 0.4);
  EXPECT_EQ(c.taylorseer_order, 2);
  EXPECT_EQ(DbCacheConfig::parse("DBCache_F8B0_W8I1M0MC0_R0.08_T0O0").taylorseer_order, 0);
  const DbCacheConfig mask = DbCacheConfig::parse("DBCache_F1B0_W8I1M5MC0_R0.12_SCM1101_static");
  EXPECT_EQ(mask.steps_mask, (std::vector<int>{1, 1, 0, 1}));
  EXPECT_EQ(mask.mask_policy, StepMaskPolicy::Static);
  EXPECT_EQ(mask.max_cached_steps, 5);
}

TEST(DbCacheConfig, WhatItCannotReadIsNamed) {
  auto error_of = [](const std::string& text) {
    try {
      DbCacheConfig::parse(text);
    } catch (const CacheConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error_of("FBCache_F1B0").find("expected DBCache_F{Fn}B{Bn}"), std::string::npos);
  EXPECT_NE(error_of("DBCache_F1B0_W8I1M0MC3_R0.12_CFG1_banana").find("cannot read '_banana'"), std::string::npos);
  EXPECT_NE(error_of("DBCache_F0B0_W8I1M0MC3_R0.12").find("Fn must be at least 1"), std::string::npos);
  EXPECT_NE(error_of("DBCache_F1B0_W8I1M0MC3_R0.12_T1O4").find("TaylorSeer order 4"), std::string::npos);
  EXPECT_NE(error_of("DBCache_F1B0_W8I1M0MC3_R0.1.2").find("is not a number"), std::string::npos);
}

TEST(CacheProfile, NamesReleasesAndTheirDefaults) {
  EXPECT_FALSE(parse_cache_profile("none").enabled);
  const CacheProfile by_release = parse_cache_profile("cache-dit@1.2.2");
  EXPECT_TRUE(by_release.enabled);
  EXPECT_EQ(by_release.config.fn, 1);
  EXPECT_EQ(by_release.config.max_continuous_cached_steps, 3);
  EXPECT_EQ(by_release.describe(), "cache-dit@1.2.2:DBCache_F1B0_W8I1M0MC3_R0.12_CFG1");
  EXPECT_EQ(parse_cache_profile("cache-dit@1.5.3").release.continuous_rule, ContinuousRule::Reset);
  EXPECT_EQ(parse_cache_profile("cache-dit@1.5.2").release.continuous_rule, ContinuousRule::PlusTwo);
  const CacheProfile latest = parse_cache_profile("DBCache_F2B1_W4I1M0MC4_R0.4");
  EXPECT_EQ(latest.release.version, latest_cache_dit_release().version);
  EXPECT_EQ(latest.describe(), "cache-dit@" + latest.release.version + ":DBCache_F2B1_W4I1M0MC4_R0.4_CFG1");
  try {
    parse_cache_profile("cache-dit@9.9.9");
    FAIL();
  } catch (const CacheConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: 1.2.2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_cache_profile("cache-dit@1.5.3:DBCache_F1B0_W8I1M0MC3_R0.12_CFG0"), CacheConfigError);
}

// The conditional branch's cached steps over `steps` steps when the threshold test passes at every
// step except those in `fail` (both branches see the same residuals).
std::vector<int> schedule(const std::string& release, const std::string& config, int steps, std::set<int> fail = {}) {
  DbCache cache(parse_cache_profile("cache-dit@" + release + ":" + config));
  const at::Tensor zero = at::zeros({1, 4, 2});
  double level = 1;
  for (int s = 0; s < steps; ++s) {
    if (fail.count(s)) level *= 4;  // a residual far from the reference: the test fails here
    const at::Tensor f = at::full({1, 4, 2}, level);
    for (CfgBranch branch : {CfgBranch::Cond, CfgBranch::Uncond}) {
      cache.begin_call(branch);
      at::Tensor image = f.clone(), text = zero.clone();
      if (cache.serve_from_cache(f)) cache.apply_cached(image, text);
      else cache.store(f, zero, zero);
    }
  }
  std::vector<int> hits;
  for (const auto& d : cache.decisions(CfgBranch::Cond))
    if (d.hit) hits.push_back(d.step);
  EXPECT_EQ(cache.decisions(CfgBranch::Uncond).size(), size_t(steps));
  return hits;
}

using Steps = std::vector<int>;

TEST(DbCacheSchedule, AContinuousLimitAloneGivesTheSameStepsInEveryRelease) {
  for (const char* release : {"1.2.2", "1.5.2", "1.5.3"}) {
    EXPECT_EQ(schedule(release, "DBCache_F1B0_W8I1M0MC3_R0.5", 30),
              (Steps{8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22, 24, 25, 26, 28, 29}))
        << release;
    EXPECT_EQ(schedule(release, "DBCache_F1B0_W8I1M0MC2_R0.5", 30),
              (Steps{8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24, 26, 27, 29}))
        << release;
    EXPECT_EQ(schedule(release, "DBCache_F1B0_W8I2M0MC3_R0.5", 20), (Steps{1, 3, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 19}))
        << release;
    EXPECT_EQ(schedule(release, "DBCache_F1B0_W8I1M5MC3_R0.5", 30), (Steps{8, 9, 10, 12, 13})) << release;
  }
}

TEST(DbCacheSchedule, TheContinuousCountChangedIn153) {
  // A failed threshold breaks a run: up to 1.5.2 the stale count cuts the next run short.
  EXPECT_EQ(schedule("1.5.2", "DBCache_F1B0_W8I1M0MC3_R0.5", 30, {10, 20}),
            (Steps{8, 9, 11, 12, 14, 15, 16, 18, 19, 21, 22, 24, 25, 26, 28, 29}));
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W8I1M0MC3_R0.5", 30, {10, 20}),
            (Steps{8, 9, 11, 12, 13, 15, 16, 17, 19, 21, 22, 23, 25, 26, 27, 29}));
  EXPECT_EQ(schedule("1.2.2", "DBCache_F1B0_W8I1M0MC3_R0.5", 30, {9, 16, 17}),
            (Steps{8, 10, 11, 12, 14, 15, 18, 19, 21, 22, 23, 25, 26, 27, 29}));
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W8I1M0MC3_R0.5", 30, {9, 16, 17}),
            (Steps{8, 10, 11, 12, 14, 15, 18, 19, 20, 22, 23, 24, 26, 27, 28}));
  // A limit of one: pairs up to 1.5.2, strict alternation from 1.5.3.
  EXPECT_EQ(schedule("1.5.2", "DBCache_F1B0_W8I1M0MC1_R0.5", 18), (Steps{8, 10, 11, 13, 14, 16, 17}));
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W8I1M0MC1_R0.5", 18), (Steps{8, 10, 12, 14, 16}));
}

TEST(DbCacheSchedule, MasksWarmupAndThresholdBounds) {
  // Static: 0 = cached whatever the residual; warmup shrinks to the mask's leading 1s.
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W8I1M0MC0_R0.5_SCM11010011_static", 8, {2, 3, 4, 5, 6, 7}),
            (Steps{2, 4, 5}));
  // Dynamic: a 0 goes on to the tests (here the failing ones compute).
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W8I1M0MC0_R0.5_SCM11010011_dynamic", 8, {4}), (Steps{2, 5}));
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W2I1M0MC0_R0", 8), Steps{});            // threshold 0: never
  EXPECT_EQ(schedule("1.5.3", "DBCache_F1B0_W2I1M0MC0_R1", 6, {3, 4}), (Steps{2, 3, 4, 5}));  // >= 1: always
}

TEST(DbCacheSchedule, ImageToImageNeedsTheRefreshHintOfItsReferenceCount) {
  DbCache with_hint(parse_cache_profile("cache-dit@1.5.3:DBCache_F1B0_W2I1M0MC0_R0.5_FR1_once"));
  EXPECT_NO_THROW(with_hint.count_condition_writes(1));
  with_hint.begin_call(CfgBranch::Cond);  // refreshes: the loop starts a fresh context
  DbCache without(parse_cache_profile("cache-dit@1.5.3:DBCache_F1B0_W2I1M0MC0_R0.5"));
  EXPECT_THROW(without.count_condition_writes(1), CacheConfigError);
  DbCache t2i_with_hint(parse_cache_profile("cache-dit@1.5.3:DBCache_F1B0_W2I1M0MC0_R0.5_FR1"));
  EXPECT_THROW(t2i_with_hint.count_condition_writes(0), CacheConfigError);
}

TEST(TaylorSeer, ForecastsALinearResidualExactlyOnceItHasADerivative) {
  TaylorSeer seer(2);
  auto y = [](double t) { return at::full({3}, 2.0 + 0.5 * t, at::kDouble); };
  // Branch steps 0..3 computed: the first difference appears at step 3.
  for (int step = 0; step < 4; ++step) {
    seer.tick();
    seer.update(y(step));
  }
  seer.tick();  // step 4 cached
  EXPECT_TRUE(at::allclose(seer.forecast(), y(4))) << seer.forecast();
  seer.tick();  // step 5 cached: two calls since the last update
  EXPECT_TRUE(at::allclose(seer.forecast(), y(5))) << seer.forecast();

  TaylorSeer young(1);
  for (int step = 0; step < 3; ++step) {
    young.tick();
    young.update(y(step));
  }
  young.tick();
  EXPECT_TRUE(at::equal(young.forecast(), y(2))) << "before step 3 a forecast is the last residual";
}

}  // namespace
}  // namespace glmh
