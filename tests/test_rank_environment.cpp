// How a rank process recognises the launcher that started it (glmh, torchrun, srun) and refuses
// inconsistent environments.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "pipeline/runtime/rank_environment.h"

namespace glmh {
namespace {

// Sets the given variables (and clears every other launcher variable) for one test.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::string>& vars) {
    for (const char* name : kAll) ::unsetenv(name);
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnvironment() {
    for (const char* name : kAll) ::unsetenv(name);
  }

 private:
  static constexpr const char* kAll[] = {
      "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "GLMH_STORE", "GLMH_RUN_ID",
      "GLMH_STATUS_DIR", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RUN_ID",
      "TORCHELASTIC_RESTART_COUNT", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS",
      "SLURM_LOCALID", "SLURM_JOB_ID"};
};

TEST(RankEnvironment, NoLauncherMeansGlmhLaunchesRanksItself) {
  ScopedEnvironment env({});
  EXPECT_FALSE(RankEnvironment::from_environment().has_value());
}

TEST(RankEnvironment, Torchrun) {
  ScopedEnvironment env({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                         {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29511"},
                         {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RUN_ID", "job9"},
                         {"TORCHELASTIC_RESTART_COUNT", "2"}});
  const auto e = RankEnvironment::from_environment();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "torchrun");
  EXPECT_EQ(e->rank, 3);
  EXPECT_EQ(e->world_size, 4);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_EQ(e->store.to_string(), "tcp:node7:29511");
  EXPECT_FALSE(e->store.serve);  // torchrun's agent already serves the store
  EXPECT_EQ(e->key_prefix, "glmh/job9/2");
}

TEST(RankEnvironment, GlmhsOwnLauncher) {
  ScopedEnvironment env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"},
                         {"GLMH_STORE", "file:/tmp/x/store"}, {"GLMH_RUN_ID", "r1"}});
  const auto e = RankEnvironment::from_environment();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "glmh");
  EXPECT_EQ(e->store.to_string(), "file:/tmp/x/store");
  EXPECT_EQ(e->run_id, "r1");
}

TEST(RankEnvironment, SrunStepButNotAnSbatchScript) {
  {
    ScopedEnvironment env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_JOB_ID", "77"}});
    EXPECT_FALSE(RankEnvironment::from_environment().has_value());  // the batch script itself
  }
  ScopedEnvironment env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "8"},
                         {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "n0"}, {"MASTER_PORT", "29500"}});
  const auto e = RankEnvironment::from_environment();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->launcher, "srun");
  EXPECT_EQ(e->rank, 5);
  EXPECT_EQ(e->world_size, 8);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_TRUE(e->store.serve);
}

TEST(RankEnvironment, InconsistentValuesAreRefusedNamingTheVariable) {
  auto expect_refused = [](const std::map<std::string, std::string>& vars, const std::string& needle) {
    ScopedEnvironment env(vars);
    try {
      RankEnvironment::from_environment();
      ADD_FAILURE() << "accepted; expected an error mentioning " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_refused({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}},
                 "RANK=2 is not below WORLD_SIZE=2");
  expect_refused({{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK='x'");
  expect_refused({{"RANK", "0"}, {"WORLD_SIZE", "2"}}, "MASTER_ADDR is not set");
  expect_refused({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"GLMH_STORE", "ftp:x"}}, "expected file:PATH or tcp:HOST:PORT");
}

}  // namespace
}  // namespace glmh
