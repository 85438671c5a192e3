#include "pipeline/executor/parallel_executor.h"

#include <ATen/ATen.h>

#include <chrono>

#include "pipeline/runtime/rank_context.h"
#include "pipeline/runtime/error_text.h"
#include "pipeline/executor/request.h"

namespace glmh {

const char* parallelism_name(StageParallelism p) {
  switch (p) {
    case StageParallelism::Replicated: return "REPLICATED";
    case StageParallelism::MainRankOnly: return "MAIN_RANK_ONLY";
    case StageParallelism::CfgParallel: return "CFG_PARALLEL";
    case StageParallelism::MainRankOnlyAndSendToOthers: return "MAIN_RANK_ONLY_AND_SEND_TO_OTHERS";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The main rank of main-rank stages is WORLD rank 0 — never "rank 0 of some group": with
// CFG-parallel several world ranks are CFG rank 0 and would all think they are the source.
constexpr int kMainRank = 0;

}  // namespace

ParallelExecutor::ParallelExecutor(RankContext& ctx, ExecutorHooks hooks)
    : ctx_(ctx), hooks_(std::move(hooks)) {}

void ParallelExecutor::execute(const std::vector<std::unique_ptr<Stage>>& stages,
                               Request& request) {
  for (const auto& stage : stages) {
    ctx_.enter_stage(stage->name());
    StageRecord record{stage->name(), stage->parallelism()};
    const auto t0 = Clock::now();
    try {
      if (hooks_.before_stage) hooks_.before_stage(*stage, ctx_);
      switch (stage->parallelism()) {
        case StageParallelism::Replicated: run_replicated(*stage, request, record); break;
        case StageParallelism::MainRankOnly: run_main_rank_only(*stage, request, record); break;
        case StageParallelism::CfgParallel: run_cfg_parallel(*stage, request, record); break;
        case StageParallelism::MainRankOnlyAndSendToOthers:
          run_main_rank_and_send(*stage, request, record);
          break;
      }
    } catch (const StageError&) {
      throw;
    } catch (const RunStopped&) {
      throw;
    } catch (const CommError& e) {
      // Most often a peer died or stalled: say which stage each peer is in.
      std::string peers = ctx_.describe_peer_stages();
      throw StageError(stage->name(), ctx_.rank(),
                       "stage '" + stage->name() + "': " + e.what() +
                           (peers.empty() ? "" : "; peers: " + peers));
    } catch (const std::exception& e) {
      throw StageError(stage->name(), ctx_.rank(), "stage '" + stage->name() + "' failed on rank " +
                                                       std::to_string(ctx_.rank()) + ": " +
                                                       one_line_error(e));
    }
    ctx_.synchronize_device();
    record.total_seconds = seconds_since(t0);
    records_.push_back(record);
    if (hooks_.after_stage) hooks_.after_stage(*stage, request, ctx_);
  }
  ctx_.enter_stage("done");
}

std::string ParallelExecutor::run_body(Stage& stage, Request& request, StageRecord& record) {
  record.ran_here = true;
  ctx_.synchronize_device();
  const auto t0 = Clock::now();
  try {
    if (hooks_.before_body) hooks_.before_body(stage, ctx_);
    stage.run(request, ctx_);
    ctx_.synchronize_device();
  } catch (const CommError&) {
    throw;  // a collective inside the body failed: not a body error, see execute()
  } catch (const RunStopped&) {
    throw;
  } catch (const std::exception& e) {
    return one_line_error(e);
  }
  record.body_seconds = seconds_since(t0);
  request.add_timing(stage.name(), record.body_seconds);
  return "";
}

void ParallelExecutor::status_barrier(const Stage& stage, const std::string& local_error,
                                      const std::string& what) {
  at::Tensor failed =
      at::zeros({ctx_.world_size()}, at::TensorOptions().dtype(at::kInt).device(ctx_.device()));
  if (!local_error.empty()) failed[ctx_.rank()] = 1;
  ctx_.group(GroupKind::World).all_reduce(failed);
  ctx_.synchronize_device();
  const at::Tensor flags = failed.cpu();
  std::string failing;
  int first = -1;
  for (int r = 0; r < ctx_.world_size(); ++r) {
    if (flags[r].item<int>() == 0) continue;
    if (first < 0) first = r;
    failing += (failing.empty() ? "" : ", ") + std::to_string(r);
  }
  if (first < 0) return;
  if (!local_error.empty())
    throw StageError(stage.name(), ctx_.rank(), "stage '" + stage.name() + "': " + what +
                                                    " failed on rank " + std::to_string(ctx_.rank()) +
                                                    ": " + local_error);
  throw StageError(stage.name(), first,
                   "stage '" + stage.name() + "': " + what + " failed on rank(s) " + failing);
}

void ParallelExecutor::run_replicated(Stage& stage, Request& request, StageRecord& record) {
  const std::string error = run_body(stage, request, record);
  if (!error.empty())
    throw StageError(stage.name(), ctx_.rank(), "stage '" + stage.name() + "' failed on rank " +
                                                    std::to_string(ctx_.rank()) + ": " + error);
}

void ParallelExecutor::run_main_rank_only(Stage& stage, Request& request, StageRecord& record) {
  // Nothing of the request travels, but rank 0's outcome does: its error message (empty when
  // it succeeded) is broadcast, so a failure is raised on every rank, not only on rank 0.
  Communicator& world = ctx_.group(GroupKind::World);
  const int64_t handoff = ctx_.next_handoff();
  std::string error;
  if (ctx_.rank() == kMainRank) {
    error = run_body(stage, request, record);
    ctx_.signal_main_rank_done(handoff);
  } else {
    ctx_.wait_for_main_rank(handoff, stage.name());
  }
  error = world.broadcast_bytes(error, kMainRank);
  world.barrier();
  if (!error.empty())
    throw StageError(stage.name(), kMainRank, "stage '" + stage.name() + "' failed on rank 0: " + error);
}

void ParallelExecutor::run_cfg_parallel(Stage& stage, Request& request, StageRecord& record) {
  Communicator& cfg = ctx_.group(GroupKind::Cfg);
  if (cfg.size() > 1) {
    // Only shared fields travel: each receiver keeps its own rank-local fields.
    const std::string bytes =
        cfg.broadcast_bytes(cfg.rank() == 0 ? request.serialize(/*include_rank_local=*/false) : "", 0);
    std::string error;
    if (cfg.rank() != 0) {
      try {
        request.adopt_shared(Request::deserialize(bytes, ctx_.device()));
      } catch (const std::exception& e) {
        error = one_line_error(e);
      }
    }
    status_barrier(stage, error, "adopting the CFG group's request");
  }
  // Peers may be inside the body's own collectives when this rank fails, so a body failure
  // cannot wait for a status barrier: it is raised here, and the peers' collectives fail once
  // this rank is gone (or time out).
  run_replicated(stage, request, record);
  ctx_.group(GroupKind::World).barrier();
}

void ParallelExecutor::run_main_rank_and_send(Stage& stage, Request& request, StageRecord& record) {
  Communicator& world = ctx_.group(GroupKind::World);
  const int64_t handoff = ctx_.next_handoff();
  std::string payload;
  if (ctx_.rank() == kMainRank) {
    std::string error = run_body(stage, request, record);
    if (error.empty()) {
      try {
        payload = "1" + request.serialize();
      } catch (const std::exception& e) {
        error = "serialising the request: " + one_line_error(e);
      }
    }
    if (!error.empty()) payload = "0" + error;
    ctx_.signal_main_rank_done(handoff);
  } else {
    ctx_.wait_for_main_rank(handoff, stage.name());
  }
  world.barrier();
  payload = world.broadcast_bytes(payload, kMainRank);
  if (payload.empty() || payload[0] != '1')
    throw StageError(stage.name(), kMainRank,
                     "stage '" + stage.name() + "' failed on rank 0: " +
                         (payload.empty() ? "empty message" : payload.substr(1)));
  std::string error;
  if (ctx_.rank() != kMainRank) {
    try {
      request = Request::deserialize(payload.substr(1), ctx_.device());
    } catch (const std::exception& e) {
      error = one_line_error(e);
    }
  }
  // The barrier after the hand-off also tells every rank whether each one adopted the request.
  status_barrier(stage, error, "adopting rank 0's request");
}

ExecutorHooks chain_hooks(ExecutorHooks first, ExecutorHooks second) {
  ExecutorHooks h;
  h.before_stage = [first, second](const Stage& s, RankContext& c) {
    if (first.before_stage) first.before_stage(s, c);
    if (second.before_stage) second.before_stage(s, c);
  };
  h.before_body = [first, second](const Stage& s, RankContext& c) {
    if (first.before_body) first.before_body(s, c);
    if (second.before_body) second.before_body(s, c);
  };
  h.after_stage = [first, second](const Stage& s, Request& r, RankContext& c) {
    if (first.after_stage) first.after_stage(s, r, c);
    if (second.after_stage) second.after_stage(s, r, c);
  };
  return h;
}

}  // namespace glmh
