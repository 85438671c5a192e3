// How this rank process was started, read from its environment.
//
//  - glmh's own local launcher sets RANK, WORLD_SIZE, LOCAL_RANK, GLMH_STORE=file:PATH (fresh per
//    run), GLMH_RUN_ID and GLMH_STATUS_DIR;
//  - torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (and, when its agent
//    already serves the store, TORCHELASTIC_USE_AGENT_STORE=True);
//  - srun sets SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID; MASTER_ADDR/MASTER_PORT come from the
//    job script.
#pragma once

#include <optional>
#include <string>

#include "pipeline/runtime/rendezvous.h"

namespace glmh {

struct RankEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  StoreAddress store;
  std::string run_id;      // shared by every rank of the run
  std::string key_prefix;  // namespaces the store's keys: run id and restart count
  std::string status_dir;  // where the local launcher reads each rank's current stage; may be empty
  std::string launcher;    // "glmh", "torchrun" or "srun"

  // Empty when the process was not started as a rank (then glmh launches ranks itself).
  // Throws std::invalid_argument naming the variable for inconsistent or malformed values.
  static std::optional<RankEnvironment> from_environment();
};

}  // namespace glmh
