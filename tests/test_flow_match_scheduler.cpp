// GLM-Image's schedule against the figures of docs/model.md#grid-sizes and #scheduler (from
// diffusers' pipeline arithmetic): mu per size, the truncated integer timesteps, the shifted
// sigmas, and the unshifted DiT conditioning.
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/flow_match_scheduler.h"

namespace glmh {
namespace {

TEST(FlowMatchScheduler, MuFollowsGlmsSquareRootRule) {
  const FlowMatchSchedulerConfig c;
  EXPECT_DOUBLE_EQ(glm_image_mu(glm_image_seq_len(512, 512), c), 1.75);
  EXPECT_DOUBLE_EQ(glm_image_mu(glm_image_seq_len(1024, 1024), c), 3.25);
  EXPECT_DOUBLE_EQ(glm_image_mu(glm_image_seq_len(2048, 2048), c), 6.25);
  EXPECT_NEAR(glm_image_mu(glm_image_seq_len(1024, 1152), c), 3.432, 5e-4);
  EXPECT_EQ(glm_image_seq_len(1024, 1024), 4096);
}

TEST(FlowMatchScheduler, FiftyStepsAt1024) {
  const auto s = glm_image_schedule(4096, 50);
  ASSERT_EQ(s.timesteps.size(), 50u);
  ASSERT_EQ(s.sigmas.size(), 51u);
  EXPECT_EQ(s.timesteps[0], 1000);
  EXPECT_EQ(s.timesteps[1], 980);
  EXPECT_EQ(s.timesteps[2], 960);
  EXPECT_EQ(s.timesteps[48], 40);
  EXPECT_EQ(s.timesteps[49], 20);
  EXPECT_EQ(s.dit_timesteps[0], 999);  // unshifted t - 1
  EXPECT_EQ(s.dit_timesteps[49], 19);
  EXPECT_DOUBLE_EQ(s.sigmas[0], 1.0);
  EXPECT_NEAR(s.sigmas[1], 0.9938, 5e-5);
  EXPECT_NEAR(s.sigmas[2], 0.9873, 5e-5);
  EXPECT_NEAR(s.sigmas[48], 0.1193, 5e-5);
  EXPECT_NEAR(s.sigmas[49], 0.0622, 5e-5);
  EXPECT_EQ(s.sigmas[50], 0.0);
  for (size_t k = 1; k < s.sigmas.size(); ++k) EXPECT_LT(s.sigmas[k], s.sigmas[k - 1]);
}

TEST(FlowMatchScheduler, TruncatesLinspaceLikeNumpy) {
  // linspace(1000, 1, 31)[:-1] = 1000, 966.7, 933.4, ... -> 1000, 966, 933, ...
  const auto s = glm_image_schedule(1024, 30);
  EXPECT_EQ(s.timesteps[1], 966);
  EXPECT_EQ(s.timesteps[2], 933);
  EXPECT_EQ(s.timesteps[29], 34);
}

TEST(FlowMatchScheduler, ExactIntegersStayExact) {
  // 999 steps: linspace steps of exactly -1; a rounding slip would truncate 998 to 997.
  const auto s = glm_image_schedule(4096, 999);
  for (int k = 0; k < 999; ++k) ASSERT_EQ(s.timesteps[k], 1000 - k) << k;
}

TEST(FlowMatchScheduler, AConfigAskingForAnotherScheduleIsRefusedNamingTheField) {
  const std::pair<const char*, nlohmann::json> cases[] = {
      {"invert_sigmas", true},       {"use_karras_sigmas", true},   {"use_exponential_sigmas", true},
      {"use_beta_sigmas", true},     {"stochastic_sampling", true}, {"shift_terminal", 0.1},
      {"time_shift_type", "exponential"}, {"num_train_timesteps", 0}};
  for (const auto& [field, value] : cases) {
    try {
      nlohmann::json config = {{"use_dynamic_shifting", true}, {"time_shift_type", "linear"}};
      config[field] = value;
      FlowMatchSchedulerConfig::from_json(config, "scheduler_config.json");
      ADD_FAILURE() << field << " = " << value.dump() << " was accepted";
    } catch (const CheckpointError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("'scheduler_config.json': ", 0), 0u) << what;
      EXPECT_NE(what.find(field), std::string::npos) << what;
    }
  }
}

TEST(FlowMatchScheduler, RefusesZeroSteps) { EXPECT_THROW(glm_image_schedule(4096, 0), std::invalid_argument); }

}  // namespace
}  // namespace glmh

namespace glmh {
namespace {

// Against diffusers' FlowMatchEulerDiscreteScheduler driven as the GLM-Image pipeline drives it
// (golden/reference/scheduler_cases.json from scripts/reference/make_scheduler_golden.py):
// DiT timesteps identical, sigmas within float32 rounding.
TEST(FlowMatchScheduler, MatchesDiffusersForSeveralSizesAndStepCounts) {
  const nlohmann::json golden = read_json_file(std::string(GLMH_SOURCE_DIR) + "/golden/reference/scheduler_cases.json");
  ASSERT_EQ(golden["cases"].size(), 4u);
  for (const auto& c : golden["cases"]) {
    const auto s = glm_image_schedule(glm_image_seq_len(c["height"], c["width"]), c["steps"]);
    const std::string where = std::to_string(c["height"].get<int>()) + "x" + std::to_string(c["width"].get<int>());
    EXPECT_NEAR(s.mu, c["mu"].get<double>(), 1e-12) << where;
    EXPECT_EQ(s.dit_timesteps, c["dit_timesteps"].get<std::vector<double>>()) << where;
    const auto sigmas = c["sigmas"].get<std::vector<double>>();
    ASSERT_EQ(s.sigmas.size(), sigmas.size()) << where;
    for (size_t k = 0; k < sigmas.size(); ++k) EXPECT_NEAR(s.sigmas[k], sigmas[k], 1e-6) << where << " sigma " << k;
  }
}

}  // namespace
}  // namespace glmh
