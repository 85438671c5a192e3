// GLM-Image's sampling schedule: FlowMatch Euler with GLM's dynamic shift
// (docs/model.md#scheduler).
//
//   image_seq_len = (H/8 * W/8) / 4                         (DiT tokens)
//   mu            = sqrt(image_seq_len / base_seq_len) * max_shift + base_shift   (not Flux's lerp)
//   t_k           = int(linspace(1000, 1, N + 1)[:-1])      (truncated, then float)
//   sigma'_k      = mu / (mu + (1 / (t_k / 1000) - 1))      (linear time shift), sigma'_N = 0
//   x            <- x + (sigma'_{k+1} - sigma'_k) * v       (Euler)
//   DiT timestep  = t_k - 1                                 (UNSHIFTED: diffusers >= 0.40 feeds the
//                                                            shifted sigma * 1000 and ruins images)
// Plain arithmetic, no torch tensors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmh {

// Fields and defaults of scheduler/scheduler_config.json as GLM-Image ships it.
struct FlowMatchSchedulerConfig {
  int64_t num_train_timesteps = 1000;
  bool use_dynamic_shifting = true;
  double base_shift = 0.25;
  double max_shift = 0.75;
  int64_t base_image_seq_len = 256;
  int64_t max_image_seq_len = 4096;
  double shift = 1.0;  // the static shift, used only without dynamic shifting

  // scheduler_config.json; settings this schedule does not implement (another time_shift_type,
  // inverted sigmas, a terminal shift, Karras / exponential / beta sigmas, stochastic sampling)
  // are refused with CheckpointError naming `source`, never ignored.
  static FlowMatchSchedulerConfig from_json(const nlohmann::json& j, const std::string& source);
};

struct FlowMatchSchedule {
  double mu = 0;
  std::vector<double> timesteps;       // t_k, N entries, unshifted
  std::vector<double> dit_timesteps;   // t_k - 1, what the DiT is conditioned on
  std::vector<double> sigmas;          // shifted sigma'_k, N + 1 entries, the last 0
};

double glm_image_mu(int64_t image_seq_len, const FlowMatchSchedulerConfig& config);
// image_seq_len from the image size in pixels (H and W multiples of 16).
int64_t glm_image_seq_len(int64_t height, int64_t width);
FlowMatchSchedule glm_image_schedule(int64_t image_seq_len, int steps,
                                     const FlowMatchSchedulerConfig& config = {});

}  // namespace glmh
