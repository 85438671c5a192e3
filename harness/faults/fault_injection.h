// Injected failures for testing that glmh ends a broken run cleanly and that its checks fail on
// the fault they exist for. Spec: KIND:RANK:STAGE[@N], e.g. "stall:2:glm_image.denoising@3".
//
//   throw    the stage body throws on RANK            -> every rank raises it, exit 3
//   exit     RANK's process exits (code 7)
//   kill     RANK's process is SIGKILLed (an OOM kill)
//   stall    RANK sleeps forever                      -> peers time out in their collective
//   freeze   RANK stops itself (SIGSTOP): no heartbeat, no progress
//   perturb  after the stage, RANK changes its request: one element of every integer tensor
//            (prior tokens, kept in range) and every float tensor (latents) -> checks must fail
//
// Without @N the fault fires as the stage begins (throw: as its body begins). With @N it fires
// inside the body, once the stage has made N units of progress (AR tokens, denoise steps): e.g.
// while rank 0 generates and the others wait on the store, or between two denoise steps.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/executor/parallel_executor.h"

namespace glmh {

// A stage that reports its progress, and how many units it will make at least (what @N may name).
struct ProgressStage {
  std::string stage;
  int64_t min_units = 0;
  std::string unit;  // "AR tokens", "denoise steps"
};

// Progress inside a stage body: units done, units in all.
using ProgressHook = std::function<void(int64_t done, int64_t total)>;

struct FaultSpec {
  enum class Kind { None, Throw, Exit, Kill, Stall, Freeze, Perturb } kind = Kind::None;
  int rank = 0;
  std::string stage;
  int64_t after_units = 0;  // @N; 0: as the stage begins

  bool none() const { return kind == Kind::None; }
  // Throws UsageError naming the text for a malformed spec.
  static FaultSpec parse(const std::string& text);
  // A fault that could never fire is a usage error, not a silently passing run: the rank must
  // exist, the stage must be one of `stages`, a throw (and any @N fault) must target a rank that
  // runs the body, and @N must name a stage of `progress` with at least N + 1 units.
  void validate(const std::vector<std::unique_ptr<Stage>>& stages, int world_size,
                const std::vector<ProgressStage>& progress = {}) const;
  // The faults that fire at a stage's boundaries.
  ExecutorHooks hooks() const;
  // For an @N fault on `stage`: the progress hook that fires it on `rank` (empty otherwise).
  ProgressHook progress_hook(const std::string& stage, int rank) const;
};

// Both hooks, `first` before `second`; either may be empty.
ProgressHook chain_progress(ProgressHook first, ProgressHook second);


}  // namespace glmh
