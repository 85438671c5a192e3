#include "pipeline/cache/taylor_seer.h"

#include <ATen/ATen.h>

#include <cmath>

namespace glmh {

void TaylorSeer::update(const at::Tensor& residual) {
  if (started_ && !ladder_.empty() && !ladder_[0].sizes().equals(residual.sizes())) {
    // A new shape starts the calibrator afresh, as upstream does.
    counter_ = last_update_ = -1;
    ladder_.clear();
  }
  started_ = true;
  const std::vector<at::Tensor> previous = ladder_;
  const int window = counter_ - last_update_;
  std::vector<at::Tensor> next{residual};
  // Differences only once the counter has passed 1 (upstream's rule: the first derivative
  // appears at the branch's fourth call).
  for (int i = 0; i < order_; ++i) {
    if (i >= int(previous.size()) || counter_ <= 1) break;
    next.push_back((next[i] - previous[i]) / double(window));
  }
  ladder_ = std::move(next);
  last_update_ = counter_;
}

at::Tensor TaylorSeer::forecast() const {
  const int elapsed = counter_ - last_update_;
  at::Tensor sum = ladder_[0];
  double factorial = 1;
  for (size_t i = 1; i < ladder_.size(); ++i) {
    factorial *= double(i);
    sum = sum + ladder_[i] * (1.0 / factorial) * std::pow(double(elapsed), double(i));
  }
  return sum;
}

}  // namespace glmh
