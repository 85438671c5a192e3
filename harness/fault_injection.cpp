#include "fault_injection.h"

#include <ATen/ATen.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli_args.h"
#include "pipeline/executor/request.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

FaultSpec FaultSpec::parse(const std::string& text) {
  FaultSpec f;
  if (text.empty()) return f;
  const auto a = text.find(':');
  const auto b = a == std::string::npos ? a : text.find(':', a + 1);
  const std::string usage = "--inject '" + text + "': expected KIND:RANK:STAGE with KIND one of "
                            "throw, exit, kill, stall, freeze, perturb";
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

void FaultSpec::validate(const std::vector<std::unique_ptr<Stage>>& stages, int world_size) const {
  if (kind == Kind::None) return;
  if (rank >= world_size)
    throw UsageError("--inject: rank " + std::to_string(rank) + " does not exist (world size " +
                     std::to_string(world_size) + ")");
  std::string known;
  for (const auto& s : stages) {
    if (s->name() != stage) {
      known += (known.empty() ? "" : ", ") + s->name();
      continue;
    }
    const bool main_rank_stage = s->parallelism() == StageParallelism::MainRankOnly ||
                                 s->parallelism() == StageParallelism::MainRankOnlyAndSendToOthers;
    if (kind == Kind::Throw && main_rank_stage && rank != 0)
      throw UsageError("--inject: rank " + std::to_string(rank) + " does not run the body of " +
                       parallelism_name(s->parallelism()) + " stage '" + stage + "'");
    return;
  }
  throw UsageError("--inject: no stage '" + stage + "' (stages: " + known + ")");
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

ExecutorHooks FaultSpec::hooks() const {
  ExecutorHooks h;
  if (kind == Kind::None) return h;
  const FaultSpec self = *this;
  h.before_stage = [self](const Stage& stage, RankContext& ctx) {
    if (stage.name() != self.stage || ctx.rank() != self.rank || self.kind == Kind::Throw ||
        self.kind == Kind::Perturb)
      return;
    ctx.log().warn("injected fault: ", kind_name(self.kind), " on rank ", self.rank, " in stage '",
                   self.stage, "'");
    switch (self.kind) {
      case Kind::Exit: ::_exit(7);
      case Kind::Kill: ::kill(::getpid(), SIGKILL); break;
      case Kind::Freeze: ::raise(SIGSTOP); break;
      case Kind::Stall:
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
      default: break;
    }
  };
  if (kind == Kind::Throw) {
    h.before_body = [self](const Stage& stage, RankContext& ctx) {
      if (stage.name() == self.stage && ctx.rank() == self.rank)
        throw std::runtime_error("injected failure in stage '" + self.stage + "'");
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
