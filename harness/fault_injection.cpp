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
                            "throw, exit, kill, stall, perturb";
  if (b == std::string::npos) throw UsageError(usage);
  const std::string kind = text.substr(0, a);
  if (kind == "throw") f.kind = Kind::Throw;
  else if (kind == "exit") f.kind = Kind::Exit;
  else if (kind == "kill") f.kind = Kind::Kill;
  else if (kind == "stall") f.kind = Kind::Stall;
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

// Changes one element of every shared tensor: what a rank with diverged state would hold.
void perturb(Request& r) {
  for (const auto& name : r.field_names()) {
    if (r.scope(name) != FieldScope::Shared) continue;
    try {
      at::Tensor t = r.tensor(name).clone();
      if (t.numel() == 0) continue;
      at::Tensor flat = t.view({-1});
      if (at::isFloatingType(t.scalar_type())) flat[0] = flat[0] + 1e-2;
      else if (t.scalar_type() != at::kBool) flat[0] = flat[0] + 1;
      r.set_tensor(name, t);
    } catch (const RequestError&) {
      // not a tensor
    }
  }
}

}  // namespace

ExecutorHooks FaultSpec::hooks() const {
  ExecutorHooks h;
  if (kind == Kind::None) return h;
  const FaultSpec self = *this;
  h.before_stage = [self](const Stage& stage, RankContext& ctx) {
    if (stage.name() != self.stage || ctx.rank() != self.rank || self.kind == Kind::Throw ||
        self.kind == Kind::Perturb)
      return;
    ctx.log().warn("injected fault: ", self.stage, " on rank ", self.rank);
    switch (self.kind) {
      case Kind::Exit: ::_exit(7);
      case Kind::Kill: ::kill(::getpid(), SIGKILL); break;
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
