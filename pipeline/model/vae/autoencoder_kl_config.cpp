#include "pipeline/model/vae/autoencoder_kl_config.h"

#include <utility>

#include "pipeline/checkpoint/config_fields.h"

namespace glmh {

AutoencoderKLConfig AutoencoderKLConfig::from_json(const nlohmann::json& j, const std::string& source) {
  AutoencoderKLConfig c;
  const ConfigFields f(j, source);
  auto fail = [&](const std::string& what) { f.fail(what); };
  f.positive_int("in_channels", c.in_channels);
  f.positive_int("out_channels", c.out_channels);
  f.positive_int("latent_channels", c.latent_channels);
  f.positive_int("layers_per_block", c.layers_per_block, kMaxConfigLayers);
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
  f.integer_list("block_out_channels", c.block_out_channels, 1);
  if (c.block_out_channels.empty()) fail("field 'block_out_channels' must be a non-empty list");
  if (int64_t(c.block_out_channels.size()) * (c.layers_per_block + 1) > kMaxConfigLayers)
    fail("block_out_channels x (layers_per_block + 1) = " +
         std::to_string(int64_t(c.block_out_channels.size()) * (c.layers_per_block + 1)) + " ResNet blocks, more than " +
         std::to_string(kMaxConfigLayers));
  f.number_list("latents_mean", c.latents_mean);
  f.number_list("latents_std", c.latents_std);
  for (const auto* stats : {&c.latents_mean, &c.latents_std})
    if (!stats->empty() && stats->size() != size_t(c.latent_channels))
      fail(std::string("field '") + (stats == &c.latents_mean ? "latents_mean" : "latents_std") +
           "' must list one value per latent channel (" + std::to_string(c.latent_channels) + ")");
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

}  // namespace glmh
