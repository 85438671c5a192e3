// Starts N rank processes of this same glmh command on this machine and supervises them.
//
// Each rank is this executable re-exec'd with RANK / WORLD_SIZE / LOCAL_RANK and a FileStore on a
// fresh path (GLMH_STORE). The launcher waits for all of them; the first rank that exits non-zero,
// dies by a signal, or outlives the run timeout ends the run: the others get a grace period to
// exit on their own (their collectives fail once a peer is gone), then SIGKILL. Children also die
// with the launcher (PR_SET_PDEATHSIG), so nothing is orphaned.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "pipeline/runtime/rank_log.h"

namespace glmh {

struct LocalLaunch {
  int world_size = 1;
  std::vector<std::string> args;  // the command line after the program name, passed to every rank
  std::chrono::milliseconds run_timeout{0};  // 0: none
  std::chrono::milliseconds grace{std::chrono::seconds(3)};
  std::string run_id;
};

// Returns the run's exit code: 0 when every rank exited 0; else the first failing rank's code when
// it was 1 (a check failed) or 2 (bad input), and 3 for anything else (a crash, a signal, a
// timeout). Prints one line naming the rank and its stage for a failure.
int launch_local_ranks(const LocalLaunch& launch, const RankLog& log);

// "20261128-093015-12345": sortable, unique per launcher process.
std::string make_run_id();

}  // namespace glmh
