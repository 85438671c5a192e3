// Injected failures for testing that glmh ends a broken run cleanly and that its checks fail on
// the fault they exist for. Spec: KIND:RANK:STAGE, e.g. "stall:2:demo.denoise".
//
//   throw    the stage body throws on RANK            -> every rank raises it, exit 3
//   exit     RANK's process exits (code 7) as the stage begins
//   kill     RANK's process is SIGKILLed (an OOM kill) as the stage begins
//   stall    RANK sleeps forever as the stage begins  -> peers time out in their collective
//   freeze   RANK stops itself (SIGSTOP) as the stage begins: no heartbeat, no progress
//   perturb  after the stage, RANK changes its request: one element of every integer tensor
//            (prior tokens, kept in range) and every float tensor (latents) -> checks must fail
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pipeline/executor/parallel_executor.h"

namespace glmh {

struct FaultSpec {
  enum class Kind { None, Throw, Exit, Kill, Stall, Freeze, Perturb } kind = Kind::None;
  int rank = 0;
  std::string stage;

  // Throws UsageError naming the text for a malformed spec.
  static FaultSpec parse(const std::string& text);
  // A fault that could never fire is a usage error, not a silently passing run: the rank must
  // exist, the stage must be one of `stages`, and a throw must target a rank that runs the body.
  void validate(const std::vector<std::unique_ptr<Stage>>& stages, int world_size) const;
  ExecutorHooks hooks() const;
};

// Both sets of hooks, `first`'s before `second`'s.
ExecutorHooks chain_hooks(ExecutorHooks first, ExecutorHooks second);

}  // namespace glmh
