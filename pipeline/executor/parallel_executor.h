// Runs stages in order with the semantics of their declared parallelism
// (docs/executor.md#stage-types).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/executor/stage.h"

namespace glmh {

class RankContext;
class Request;

// A stage failed. `origin_rank` is the rank where it failed first (-1 when unknown); every rank
// that learns of the failure throws one, so no rank is left waiting in a collective.
class StageError : public std::runtime_error {
 public:
  StageError(std::string stage, int origin_rank, const std::string& message)
      : std::runtime_error(message), stage_(std::move(stage)), origin_rank_(origin_rank) {}
  const std::string& stage() const { return stage_; }
  int origin_rank() const { return origin_rank_; }

 private:
  std::string stage_;
  int origin_rank_;
};

// Thrown by a stage body or hook on every rank at the same point, when a collective check has
// decided that the run cannot go on (e.g. a rank never received the AR stage's tokens). The
// executor passes it through unchanged: the run did not break, a check failed.
class RunStopped : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct StageRecord {
  std::string stage;
  StageParallelism parallelism;
  bool ran_here = false;       // whether this rank executed the stage body
  double body_seconds = 0;     // the stage body (0 where it did not run here)
  double total_seconds = 0;    // body plus the executor's broadcasts and barriers
};

struct ExecutorHooks {
  // Called on every rank as a stage begins, before any of its communication (fault injection).
  std::function<void(const Stage&, RankContext&)> before_stage;
  // Called just before the body, on the ranks that run it; what it throws counts as the body's.
  std::function<void(const Stage&, RankContext&)> before_body;
  // Called on every rank once a stage, and the executor's communication for it, are done.
  std::function<void(const Stage&, Request&, RankContext&)> after_stage;
};

// Both sets of hooks, `first`'s before `second`'s.
ExecutorHooks chain_hooks(ExecutorHooks first, ExecutorHooks second);

class ParallelExecutor {
 public:
  explicit ParallelExecutor(RankContext& ctx, ExecutorHooks hooks = {});

  // Collective over the world. A failing main-rank stage (MAIN_RANK_ONLY or ..._SEND_TO_OTHERS)
  // raises StageError with rank 0's message on every rank. A body failing on one rank of a
  // REPLICATED or CFG_PARALLEL stage raises there; the peers' next collective with it fails
  // (at once when its process exits, after the collective timeout if it lives on), which raises
  // StageError with the collective named and the stage every peer is in.
  void execute(const std::vector<std::unique_ptr<Stage>>& stages, Request& request);

  const std::vector<StageRecord>& records() const { return records_; }

 private:
  void run_replicated(Stage& stage, Request& request, StageRecord& record);
  void run_main_rank_only(Stage& stage, Request& request, StageRecord& record);
  void run_cfg_parallel(Stage& stage, Request& request, StageRecord& record);
  void run_main_rank_and_send(Stage& stage, Request& request, StageRecord& record);

  // Runs the body, timing it; returns the error message ("" on success) instead of throwing.
  std::string run_body(Stage& stage, Request& request, StageRecord& record);
  // A world barrier that also tells every rank which ranks failed `what`; throws StageError on
  // every rank if any did.
  void status_barrier(const Stage& stage, const std::string& local_error, const std::string& what);

  RankContext& ctx_;
  ExecutorHooks hooks_;
  std::vector<StageRecord> records_;
};

}  // namespace glmh
