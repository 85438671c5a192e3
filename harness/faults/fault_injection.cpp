#include "harness/faults/fault_injection.h"

#include <ATen/ATen.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "harness/cli/cli_args.h"
#include "pipeline/executor/request.h"
#include "pipeline/runtime/rank_context.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

FaultSpec FaultSpec::parse(const std::string& text) {
  FaultSpec f;
  if (text.empty()) return f;
  const auto a = text.find(':');
  const auto b = a == std::string::npos ? a : text.find(':', a + 1);
  const std::string usage = "--inject '" + text + "': expected KIND:RANK:STAGE[@N] with KIND one of "
                            "throw, exit, kill, stall, freeze, perturb and N >= 1";
  if (b == std::string::npos) throw UsageError(usage);
  const std::string kind = text.substr(0, a);
  if (kind == "throw") f.kind = Kind::Throw;
  else if (kind == "exit") f.kind = Kind::Exit;
  else if (kind == "kill") f.kind = Kind::Kill;
  else if (kind == "stall") f.kind = Kind::Stall;
  else if (kind == "freeze") f.kind = Kind::Freeze;
  else if (kind == "perturb") f.kind = Kind::Perturb;
  else throw UsageError(usage);
  try {
    size_t used = 0;
    const std::string rank = text.substr(a + 1, b - a - 1);
    f.rank = std::stoi(rank, &used);
    if (used != rank.size() || f.rank < 0) throw UsageError(usage);
  } catch (const std::logic_error&) {
    throw UsageError(usage);
  }
  f.stage = text.substr(b + 1);
  if (const auto at = f.stage.find('@'); at != std::string::npos) {
    const std::string units = f.stage.substr(at + 1);
    f.stage = f.stage.substr(0, at);
    try {
      size_t used = 0;
      f.after_units = std::stoll(units, &used);
      if (used != units.size() || f.after_units < 1) throw UsageError(usage);
    } catch (const std::logic_error&) {
      throw UsageError(usage);
    }
    if (f.kind == Kind::Perturb)
      throw UsageError("--inject '" + text + "': perturb acts once a stage is done; @N is for the other kinds");
  }
  if (f.stage.empty()) throw UsageError(usage);
  return f;
}

namespace {

const char* kind_name(FaultSpec::Kind k) {
  switch (k) {
    case FaultSpec::Kind::Throw: return "throw";
    case FaultSpec::Kind::Exit: return "exit";
    case FaultSpec::Kind::Kill: return "kill";
    case FaultSpec::Kind::Stall: return "stall";
    case FaultSpec::Kind::Freeze: return "freeze";
    case FaultSpec::Kind::Perturb: return "perturb";
    case FaultSpec::Kind::None: break;
  }
  return "none";
}

// Changes one element of every shared tensor: what a rank with diverged state would hold.
void perturb(Request& r) {
  for (const auto& name : r.field_names()) {
    if (r.scope(name) != FieldScope::Shared) continue;
    try {
      at::Tensor t = r.tensor(name).clone();
      if (t.numel() == 0) continue;
      at::Tensor flat = t.view({-1});
      if (at::isFloatingType(t.scalar_type())) {
        flat[0] = flat[0] * 1.01 + 0.01;
      } else if (t.scalar_type() != at::kBool) {
        // Down by one (0 goes up): the value stays a valid index of the same table.
        flat[0] = flat[0].item<int64_t>() == 0 ? 1 : flat[0].item<int64_t>() - 1;
      }
      r.set_tensor(name, t);
    } catch (const RequestError&) {
      // not a tensor
    }
  }
}

}  // namespace

void FaultSpec::validate(const std::vector<std::unique_ptr<Stage>>& stages, int world_size,
                         const std::vector<ProgressStage>& progress) const {
  if (kind == Kind::None) return;
  if (rank >= world_size)
    throw UsageError("--inject: rank " + std::to_string(rank) + " does not exist (world size " +
                     std::to_string(world_size) + ")");
  const Stage* target = nullptr;
  std::string known;
  for (const auto& s : stages) {
    if (s->name() == stage) target = s.get();
    known += (known.empty() ? "" : ", ") + s->name();
  }
  if (!target) throw UsageError("--inject: no stage '" + stage + "' (stages: " + known + ")");
  const bool main_rank_stage = target->parallelism() == StageParallelism::MainRankOnly ||
                               target->parallelism() == StageParallelism::MainRankOnlyAndSendToOthers;
  if ((kind == Kind::Throw || after_units > 0) && main_rank_stage && rank != 0)
    throw UsageError("--inject: rank " + std::to_string(rank) + " does not run the body of " +
                     parallelism_name(target->parallelism()) + " stage '" + stage + "'");
  if (after_units == 0) return;
  for (const auto& p : progress) {
    if (p.stage != stage) continue;
    if (after_units >= p.min_units)
      throw UsageError("--inject: stage '" + stage + "' makes " + std::to_string(p.min_units) + " " + p.unit +
                       " here; @N must be below that, got @" + std::to_string(after_units));
    return;
  }
  std::string with_progress;
  for (const auto& p : progress) with_progress += (with_progress.empty() ? "" : ", ") + p.stage;
  throw UsageError("--inject: stage '" + stage + "' reports no progress, so @N cannot fire there (stages with "
                   "progress: " + (with_progress.empty() ? std::string("none") : with_progress) + ")");
}

namespace {

// Ends, stops or breaks this process as `fault` says (perturb is not fired here).
void fire(const FaultSpec& fault, const RankLog& log) {
  log.warn("injected fault: ", kind_name(fault.kind), " on rank ", fault.rank, " in stage '", fault.stage, "'",
           fault.after_units > 0 ? " after " + std::to_string(fault.after_units) + " units of progress" : "");
  switch (fault.kind) {
    case FaultSpec::Kind::Throw: throw std::runtime_error("injected failure in stage '" + fault.stage + "'");
    case FaultSpec::Kind::Exit: ::_exit(7);
    case FaultSpec::Kind::Kill: ::kill(::getpid(), SIGKILL); break;
    case FaultSpec::Kind::Freeze: ::raise(SIGSTOP); break;
    case FaultSpec::Kind::Stall:
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
    default: break;
  }
}

}  // namespace

ProgressHook FaultSpec::progress_hook(const std::string& progress_stage, int my_rank) const {
  if (kind == Kind::None || after_units == 0 || progress_stage != stage || my_rank != rank) return {};
  const FaultSpec self = *this;
  return [self, log = RankLog(my_rank)](int64_t done, int64_t) {
    if (done == self.after_units) fire(self, log);
  };
}

ProgressHook chain_progress(ProgressHook first, ProgressHook second) {
  if (!first) return second;
  if (!second) return first;
  return [first, second](int64_t done, int64_t total) {
    first(done, total);
    second(done, total);
  };
}

ExecutorHooks FaultSpec::hooks() const {
  ExecutorHooks h;
  if (kind == Kind::None || after_units > 0) return h;
  const FaultSpec self = *this;
  if (kind == Kind::Throw) {
    h.before_body = [self](const Stage& stage, RankContext& ctx) {
      if (stage.name() == self.stage && ctx.rank() == self.rank) fire(self, ctx.log());
    };
  } else if (kind != Kind::Perturb) {
    h.before_stage = [self](const Stage& stage, RankContext& ctx) {
      if (stage.name() == self.stage && ctx.rank() == self.rank) fire(self, ctx.log());
    };
  }
  if (kind == Kind::Perturb) {
    h.after_stage = [self](const Stage& stage, Request& request, RankContext& ctx) {
      if (stage.name() == self.stage && ctx.rank() == self.rank) perturb(request);
    };
  }
  return h;
}

}  // namespace glmh
