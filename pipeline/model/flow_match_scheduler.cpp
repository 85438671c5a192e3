#include "pipeline/model/flow_match_scheduler.h"

#include "pipeline/checkpoint/config_fields.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace glmh {

FlowMatchSchedulerConfig FlowMatchSchedulerConfig::from_json(const nlohmann::json& j, const std::string& source) {
  FlowMatchSchedulerConfig c;
  const ConfigFields f(j, source);
  f.positive_int("num_train_timesteps", c.num_train_timesteps);
  f.boolean("use_dynamic_shifting", c.use_dynamic_shifting);
  f.number("base_shift", c.base_shift);
  f.number("max_shift", c.max_shift);
  f.positive_int("base_image_seq_len", c.base_image_seq_len);
  f.positive_int("max_image_seq_len", c.max_image_seq_len);
  f.number("shift", c.shift);
  std::string shift_type = "exponential";  // diffusers' default
  f.text("time_shift_type", shift_type);
  if (c.use_dynamic_shifting && shift_type != "linear")
    f.fail("time_shift_type '" + shift_type + "' is not supported (GLM-Image uses linear)");
  for (const char* off : {"invert_sigmas", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                          "stochastic_sampling"}) {
    bool on = false;
    f.boolean(off, on);
    if (on) f.fail(std::string("'") + off + "' is not supported");
  }
  if (j.contains("shift_terminal") && !j["shift_terminal"].is_null()) f.fail("'shift_terminal' is not supported");
  return c;
}

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
