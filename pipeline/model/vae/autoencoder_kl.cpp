#include "pipeline/model/vae/autoencoder_kl.h"

#include <ATen/ATen.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"

namespace glmh {

namespace {
constexpr double kGroupNormEps = 1e-6;
}

AutoencoderKLConfig AutoencoderKLConfig::from_json(const nlohmann::json& j, const std::string& source) {
  AutoencoderKLConfig c;
  const ConfigFields f(j, source);
  auto fail = [&](const std::string& what) { f.fail(what); };
  f.positive_int("in_channels", c.in_channels);
  f.positive_int("out_channels", c.out_channels);
  f.positive_int("latent_channels", c.latent_channels);
  f.positive_int("layers_per_block", c.layers_per_block);
  f.positive_int("norm_num_groups", c.norm_num_groups);
  f.boolean("use_quant_conv", c.use_quant_conv);
  f.boolean("use_post_quant_conv", c.use_post_quant_conv);
  f.boolean("mid_block_add_attention", c.mid_block_add_attention);
  c.act_fn = activation_field(f, "act_fn", Activation::Silu);
  for (const auto& [key, only] : {std::pair<const char*, const char*>{"down_block_types", "DownEncoderBlock2D"},
                                  {"up_block_types", "UpDecoderBlock2D"}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array()) fail(std::string("field '") + key + "' must be a list");
    for (const auto& t : j[key])
      if (!t.is_string() || t.get<std::string>() != only)
        fail(std::string("field '") + key + "' holds " + t.dump() + ": only " + only + " is supported");
  }
  if (j.contains("block_out_channels")) {
    if (!j["block_out_channels"].is_array() || j["block_out_channels"].empty()) fail("field 'block_out_channels' must be a non-empty list");
    c.block_out_channels = j["block_out_channels"].get<std::vector<int64_t>>();
  }
  for (const char* key : {"latents_mean", "latents_std"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!j[key].is_array() || j[key].size() != size_t(c.latent_channels))
      fail(std::string("field '") + key + "' must list one value per latent channel (" + std::to_string(c.latent_channels) + ")");
    (std::string(key) == "latents_mean" ? c.latents_mean : c.latents_std) = j[key].get<std::vector<double>>();
  }
  if (c.mid_block_add_attention)
    fail("mid_block_add_attention=true is not supported (GLM-Image's VAE has no mid-block attention)");
  for (int64_t ch : c.block_out_channels)
    if (ch % c.norm_num_groups != 0) fail("block_out_channels must be multiples of norm_num_groups");
  return c;
}

std::map<std::string, std::vector<int64_t>> autoencoder_kl_parameter_shapes(const AutoencoderKLConfig& c) {
  std::map<std::string, std::vector<int64_t>> s;
  auto conv = [&](const std::string& name, int64_t out, int64_t in, int64_t k) {
    s[name + ".weight"] = {out, in, k, k};
    s[name + ".bias"] = {out};
  };
  auto norm = [&](const std::string& name, int64_t ch) {
    s[name + ".weight"] = {ch};
    s[name + ".bias"] = {ch};
  };
  auto resnet = [&](const std::string& name, int64_t in, int64_t out) {
    norm(name + ".norm1", in);
    conv(name + ".conv1", out, in, 3);
    norm(name + ".norm2", out);
    conv(name + ".conv2", out, out, 3);
    if (in != out) conv(name + ".conv_shortcut", out, in, 1);
  };
  const auto& boc = c.block_out_channels;
  const int64_t blocks = int64_t(boc.size());
  conv("encoder.conv_in", boc[0], c.in_channels, 3);
  int64_t prev = boc[0];
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string b = "encoder.down_blocks." + std::to_string(i);
    for (int64_t j = 0; j < c.layers_per_block; ++j) resnet(b + ".resnets." + std::to_string(j), j == 0 ? prev : boc[i], boc[i]);
    if (i + 1 < blocks) conv(b + ".downsamplers.0.conv", boc[i], boc[i], 3);
    prev = boc[i];
  }
  for (int j = 0; j < 2; ++j) resnet("encoder.mid_block.resnets." + std::to_string(j), boc.back(), boc.back());
  norm("encoder.conv_norm_out", boc.back());
  conv("encoder.conv_out", 2 * c.latent_channels, boc.back(), 3);
  if (c.use_quant_conv) conv("quant_conv", 2 * c.latent_channels, 2 * c.latent_channels, 1);
  if (c.use_post_quant_conv) conv("post_quant_conv", c.latent_channels, c.latent_channels, 1);
  conv("decoder.conv_in", boc.back(), c.latent_channels, 3);
  for (int j = 0; j < 2; ++j) resnet("decoder.mid_block.resnets." + std::to_string(j), boc.back(), boc.back());
  prev = boc.back();
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t out = boc[blocks - 1 - i];
    const std::string b = "decoder.up_blocks." + std::to_string(i);
    for (int64_t j = 0; j <= c.layers_per_block; ++j) resnet(b + ".resnets." + std::to_string(j), j == 0 ? prev : out, out);
    if (i + 1 < blocks) conv(b + ".upsamplers.0.conv", out, out, 3);
    prev = out;
  }
  norm("decoder.conv_norm_out", boc[0]);
  conv("decoder.conv_out", c.out_channels, boc[0], 3);
  return s;
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
