#include "flow_match_scheduler.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace glmh {

double glm_image_mu(int64_t image_seq_len, const FlowMatchSchedulerConfig& c) {
  return std::sqrt(double(image_seq_len) / double(c.base_image_seq_len)) * c.max_shift + c.base_shift;
}

int64_t glm_image_seq_len(int64_t height, int64_t width) { return (height / 8) * (width / 8) / 4; }

FlowMatchSchedule glm_image_schedule(int64_t image_seq_len, int steps, const FlowMatchSchedulerConfig& c) {
  if (steps < 1) throw std::invalid_argument("scheduler: steps must be >= 1, got " + std::to_string(steps));
  FlowMatchSchedule s;
  s.mu = c.use_dynamic_shifting ? glm_image_mu(image_seq_len, c) : 0.0;
  const double start = double(c.num_train_timesteps), stop = 1.0;
  for (int k = 0; k < steps; ++k) {
    // numpy's linspace(start, stop, steps + 1)[k] is k * ((stop - start) / steps) + start, in
    // that order of operations; the pipeline then truncates it to an integer.
    const double t = std::trunc(double(k) * ((stop - start) / double(steps)) + start);
    s.timesteps.push_back(t);
    s.dit_timesteps.push_back(t - 1.0);
    const double sigma = t / double(c.num_train_timesteps);
    const double shifted = c.use_dynamic_shifting
                               ? s.mu / (s.mu + (1.0 / sigma - 1.0))
                               : c.shift * sigma / (1.0 + (c.shift - 1.0) * sigma);
    s.sigmas.push_back(shifted);
  }
  s.sigmas.push_back(0.0);
  return s;
}

}  // namespace glmh
