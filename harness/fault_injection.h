// Injected failures for testing that glmh ends a broken run cleanly and that its checks fail on
// the fault they exist for. Spec: KIND:RANK:STAGE, e.g. "stall:2:demo.denoise".
//
//   throw    the stage body throws on RANK            -> every rank raises it, exit 3
//   exit     RANK's process exits (code 7) as the stage begins
//   kill     RANK's process is SIGKILLed (an OOM kill) as the stage begins
//   stall    RANK sleeps forever as the stage begins  -> peers time out in their collective
//   perturb  after the stage, RANK changes its request: one element of every integer tensor
//            (prior tokens) and every float tensor (latents) -> token/parity checks must fail
#pragma once

#include <string>

#include "pipeline/executor/parallel_executor.h"

namespace glmh {

struct FaultSpec {
  enum class Kind { None, Throw, Exit, Kill, Stall, Perturb } kind = Kind::None;
  int rank = 0;
  std::string stage;

  // Throws UsageError naming the text for a malformed spec.
  static FaultSpec parse(const std::string& text);
  ExecutorHooks hooks() const;
};

}  // namespace glmh
