#include "pipeline/model/vae/autoencoder_kl.h"

#include <ATen/ATen.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"
#include "pipeline/model/activation.h"

namespace glmh {

namespace {
constexpr double kGroupNormEps = 1e-6;
}

AutoencoderKL AutoencoderKL::from_tensors(const AutoencoderKLConfig& config, const std::map<std::string, at::Tensor>& tensors) {
  AutoencoderKL m;
  m.config_ = config;
  m.params_ = take_parameters(autoencoder_kl_parameter_shapes(config), tensors, "AutoencoderKL");
  return m;
}

AutoencoderKL AutoencoderKL::load(const ComponentCheckpoint& ckpt, const c10::Device& device, c10::ScalarType dtype) {
  AutoencoderKL m;
  m.config_ = AutoencoderKLConfig::from_json(ckpt.config(), ckpt.dir() + "/config.json");
  m.params_ = load_parameters(ckpt, autoencoder_kl_parameter_shapes(m.config_), device, dtype);
  return m;
}

at::Tensor AutoencoderKL::conv(const at::Tensor& x, const std::string& prefix, int64_t stride, int64_t padding) const {
  return at::conv2d(x, p(prefix + ".weight"), p(prefix + ".bias"), {stride, stride}, {padding, padding});
}

at::Tensor AutoencoderKL::group_norm(const at::Tensor& x, const std::string& prefix) const {
  return at::group_norm(x, config_.norm_num_groups, p(prefix + ".weight"), p(prefix + ".bias"), kGroupNormEps);
}

at::Tensor AutoencoderKL::act(const at::Tensor& x) const { return apply_activation(config_.act_fn, x); }

at::Tensor AutoencoderKL::resnet(const at::Tensor& x, const std::string& prefix) const {
  at::Tensor h = conv(act(group_norm(x, prefix + ".norm1")), prefix + ".conv1");
  h = conv(act(group_norm(h, prefix + ".norm2")), prefix + ".conv2");
  const at::Tensor shortcut = params_.count(prefix + ".conv_shortcut.weight") ? conv(x, prefix + ".conv_shortcut", 1, 0) : x;
  return shortcut + h;
}

at::Tensor AutoencoderKL::encode_mode(const at::Tensor& image) const {
  const auto& boc = config_.block_out_channels;
  const int64_t blocks = int64_t(boc.size());
  at::Tensor h = conv(image, "encoder.conv_in");
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string b = "encoder.down_blocks." + std::to_string(i);
    for (int64_t j = 0; j < config_.layers_per_block; ++j) h = resnet(h, b + ".resnets." + std::to_string(j));
    // Downsample: zero-pad right and bottom by one, then a stride-2 3x3 conv without padding.
    if (i + 1 < blocks) h = conv(at::constant_pad_nd(h, {0, 1, 0, 1}, 0), b + ".downsamplers.0.conv", 2, 0);
  }
  for (int j = 0; j < 2; ++j) h = resnet(h, "encoder.mid_block.resnets." + std::to_string(j));
  // diffusers' Encoder and Decoder end in a SiLU whatever act_fn says (only the ResNets follow it).
  h = conv(at::silu(group_norm(h, "encoder.conv_norm_out")), "encoder.conv_out");
  if (config_.use_quant_conv) h = conv(h, "quant_conv", 1, 0);
  return h.narrow(1, 0, config_.latent_channels);  // moments = [mean ; logvar]: the mode is the mean
}

at::Tensor AutoencoderKL::decode(const at::Tensor& z) const {
  const auto& boc = config_.block_out_channels;
  const int64_t blocks = int64_t(boc.size());
  at::Tensor h = config_.use_post_quant_conv ? conv(z, "post_quant_conv", 1, 0) : z;
  h = conv(h, "decoder.conv_in");
  for (int j = 0; j < 2; ++j) h = resnet(h, "decoder.mid_block.resnets." + std::to_string(j));
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string b = "decoder.up_blocks." + std::to_string(i);
    for (int64_t j = 0; j <= config_.layers_per_block; ++j) h = resnet(h, b + ".resnets." + std::to_string(j));
    if (i + 1 < blocks) h = conv(at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2}), b + ".upsamplers.0.conv");
  }
  return conv(at::silu(group_norm(h, "decoder.conv_norm_out")), "decoder.conv_out");  // SiLU: see encode_mode
}

std::pair<at::Tensor, at::Tensor> AutoencoderKL::latent_statistics(const at::Tensor& like) const {
  if (config_.latents_mean.empty() || config_.latents_std.empty())
    throw CheckpointError("AutoencoderKL: the config has no latents_mean / latents_std");
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  auto as_channels = [&](const std::vector<double>& v) {
    return at::tensor(v, opts).view({1, -1, 1, 1}).to(like.device(), like.scalar_type());
  };
  return {as_channels(config_.latents_mean), as_channels(config_.latents_std)};
}

at::Tensor AutoencoderKL::denormalize(const at::Tensor& latents) const {
  const auto [mean, std] = latent_statistics(latents);
  return latents * std + mean;
}

at::Tensor AutoencoderKL::normalize(const at::Tensor& z) const {
  const auto [mean, std] = latent_statistics(z);
  return (z - mean) / std;
}

}  // namespace glmh
