// diffusers' AutoencoderKL, as GLM-Image configures it (docs/model.md#vae): GroupNorm/SiLU
// ResNet blocks, stride-2 convs down (right/bottom zero padding), nearest x2 + conv up, no
// mid-block attention, no quant convs, per-channel latents_mean / latents_std.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/model/vae/autoencoder_kl_config.h"

namespace glmh {

class ComponentCheckpoint;

class AutoencoderKL {
 public:
  static AutoencoderKL load(const ComponentCheckpoint& checkpoint, const c10::Device& device, c10::ScalarType dtype);
  static AutoencoderKL from_tensors(const AutoencoderKLConfig& config, const std::map<std::string, at::Tensor>& tensors);
  const AutoencoderKLConfig& config() const { return config_; }

  // z [B, latent, h, w] (VAE space) -> image [B, out, 8h, 8w] in about [-1, 1].
  at::Tensor decode(const at::Tensor& z) const;
  // image [B, in, H, W] -> the posterior's mode (its mean) [B, latent, H/8, W/8].
  at::Tensor encode_mode(const at::Tensor& image) const;

  // GLM-Image's normalisation: DiT latents <-> VAE latents with the per-channel statistics.
  at::Tensor denormalize(const at::Tensor& latents) const;  // z * std + mean
  at::Tensor normalize(const at::Tensor& z) const;          // (z - mean) / std

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }
  at::Tensor conv(const at::Tensor& x, const std::string& prefix, int64_t stride = 1, int64_t padding = 1) const;
  at::Tensor act(const at::Tensor& x) const;  // the config's act_fn (the ResNets')
  at::Tensor group_norm(const at::Tensor& x, const std::string& prefix) const;
  at::Tensor resnet(const at::Tensor& x, const std::string& prefix) const;
  // latents_mean and latents_std as [1, C, 1, 1] on `like`'s device and dtype.
  std::pair<at::Tensor, at::Tensor> latent_statistics(const at::Tensor& like) const;

  AutoencoderKLConfig config_;
  std::map<std::string, at::Tensor> params_;
};

}  // namespace glmh
