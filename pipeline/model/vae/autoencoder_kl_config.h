// vae/config.json (diffusers' AutoencoderKL names and defaults) and the parameter shapes it
// implies. Torch-free: fuzzed on its own (fuzz/).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/model/activation_config.h"

namespace glmh {

struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> block_out_channels = {64};
  int64_t layers_per_block = 1;
  int64_t norm_num_groups = 32;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  bool mid_block_add_attention = true;
  Activation act_fn = Activation::Silu;
  std::vector<double> latents_mean, latents_std;  // empty when the config has none

  static AutoencoderKLConfig from_json(const nlohmann::json& j, const std::string& source);
};

std::map<std::string, std::vector<int64_t>> autoencoder_kl_parameter_shapes(const AutoencoderKLConfig& config);

}  // namespace glmh
