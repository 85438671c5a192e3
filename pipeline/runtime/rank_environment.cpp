#include "pipeline/runtime/rank_environment.h"

#include <cstdlib>
#include <stdexcept>

namespace glmh {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int min_value) {
  const auto text = env(name);
  if (!text) throw std::invalid_argument(std::string("environment variable ") + name + " is not set");
  try {
    size_t used = 0;
    const int v = std::stoi(*text, &used);
    if (used == text->size() && v >= min_value) return v;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string("environment variable ") + name + "='" + *text +
                              "': expected an integer >= " + std::to_string(min_value));
}

}  // namespace

std::optional<RankEnvironment> RankEnvironment::from_environment() {
  RankEnvironment e;
  const char *rank_var, *world_var, *local_var;
  if (env("RANK") || env("WORLD_SIZE")) {
    rank_var = "RANK";
    world_var = "WORLD_SIZE";
    local_var = "LOCAL_RANK";
    e.launcher = env("GLMH_STORE") ? "glmh" : "torchrun";
  } else if (env("SLURM_PROCID") && env("SLURM_STEP_NUM_TASKS")) {
    // SLURM_STEP_NUM_TASKS is set by srun for the tasks of a job step, not in an sbatch script
    // (which also has SLURM_PROCID=0): glmh started from a batch script launches its own ranks.
    rank_var = "SLURM_PROCID";
    world_var = "SLURM_STEP_NUM_TASKS";
    local_var = "SLURM_LOCALID";
    e.launcher = "srun";
  } else {
    return std::nullopt;
  }
  e.rank = env_int(rank_var, 0);
  e.world_size = env_int(world_var, 1);
  e.local_rank = env(local_var) ? env_int(local_var, 0) : e.rank;
  if (e.rank >= e.world_size)
    throw std::invalid_argument(std::string(rank_var) + "=" + std::to_string(e.rank) +
                                " is not below " + world_var + "=" + std::to_string(e.world_size));

  if (const auto store = env("GLMH_STORE")) {
    e.store = StoreAddress::parse(*store);
  } else {
    const auto addr = env("MASTER_ADDR");
    if (!addr)
      throw std::invalid_argument(std::string("started as rank ") + std::to_string(e.rank) +
                                  " by " + e.launcher + " but MASTER_ADDR is not set");
    e.store.kind = StoreAddress::Kind::Tcp;
    e.store.host = *addr;
    e.store.port = env_int("MASTER_PORT", 1);
    // torchrun's agent already serves a TCPStore at MASTER_PORT; joining it as a second server
    // would fail with "address in use".
    e.store.serve = env("TORCHELASTIC_USE_AGENT_STORE").value_or("") != "True";
  }
  e.run_id = env("GLMH_RUN_ID").value_or(env("TORCHELASTIC_RUN_ID").value_or(env("SLURM_JOB_ID").value_or("")));
  e.key_prefix = "glmh/" + e.run_id + "/" + env("TORCHELASTIC_RESTART_COUNT").value_or("0");
  e.status_dir = env("GLMH_STATUS_DIR").value_or("");
  return e;
}

}  // namespace glmh
