// A pipeline stage and the parallelism it declares (docs/executor.md#stage-types).
#pragma once

#include <string>

namespace glmh {

class Request;
class RankContext;

enum class StageParallelism {
  // Every rank runs the stage on its own copy of the request; nothing happens afterwards.
  Replicated,
  // World rank 0 runs it; a barrier follows; results are NOT propagated (rank 0's error is).
  MainRankOnly,
  // Every rank runs it, after the request is broadcast inside its CFG group from the group's
  // first rank (rank-local fields kept); a barrier follows. A failing body raises on its rank;
  // peers learn of it when their next collective with that rank fails.
  CfgParallel,
  // World rank 0 runs it and sends [ok, request or error] to every rank, which adopts the
  // request (or raises rank 0's error); barriers before and after, as upstream has them.
  MainRankOnlyAndSendToOthers,
};

const char* parallelism_name(StageParallelism p);

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string name() const = 0;
  virtual StageParallelism parallelism() const = 0;
  virtual void run(Request& request, RankContext& ctx) = 0;
};

}  // namespace glmh
