// cache-dit's TaylorSeer calibrator for one stream of one CFG branch
// (docs/cache-dit-releases.md#5-taylorseer-identical-in-all-examined-releases): on computed calls it
// keeps a ladder of finite differences of the middle blocks' residual; on cached calls it forecasts
// the residual by a Taylor series in the number of calls since the last update. Elementwise, so
// under sequence parallelism each rank forecasts its own shard with no communication.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace glmh {

class TaylorSeer {
 public:
  explicit TaylorSeer(int order) : order_(order) {}
  // Every call of the branch, cached or not, before the decision (from the first update on).
  void tick() {
    if (started_) ++counter_;
  }
  // A computed call: `residual` is what the middle blocks added.
  void update(const at::Tensor& residual);
  // A cached call: the forecast residual (the last one while no difference exists yet).
  at::Tensor forecast() const;
  bool ready() const { return !ladder_.empty(); }

 private:
  int order_;
  bool started_ = false;
  int counter_ = -1, last_update_ = -1;
  std::vector<at::Tensor> ladder_;  // [0]: the residual, [i]: its i-th difference quotient
};

}  // namespace glmh
