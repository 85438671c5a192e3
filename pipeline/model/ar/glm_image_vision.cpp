#include "pipeline/model/ar/glm_image_vision.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

namespace {

const std::string kVisual = "model.visual.";
const std::string kVq = "model.vqmodel.";

// grid_sampler's enums (ATen/native/GridSamplerUtils.h).
constexpr int64_t kBilinear = 0;
constexpr int64_t kBorderPadding = 1;

// F.normalize(x, p=2, dim=-1): x / max(|x|, 1e-12), in x's dtype.
at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12); }

}  // namespace

GlmImageVisionEncoder GlmImageVisionEncoder::load(const ComponentCheckpoint& ckpt, const c10::Device& device,
                                                  c10::ScalarType dtype) {
  GlmImageVisionEncoder m;
  const std::string source = ckpt.dir() + "/config.json";
  m.vision_ = GlmImageVisionConfig::from_json(ckpt.config(), source);
  m.vq_ = GlmImageVQConfig::from_json(ckpt.config(), source);
  if (m.vq_.latent_channels != m.vision_.hidden_size)
    ConfigFields(ckpt.config(), source)
        .fail("vq_config.latent_channels " + std::to_string(m.vq_.latent_channels) +
              " must equal vision_config.hidden_size " + std::to_string(m.vision_.hidden_size));
  m.params_ = load_parameters(ckpt, glm_image_vision_parameter_shapes(m.vision_, m.vq_), device, dtype);
  const int64_t side = m.vision_.position_side();
  m.position_table_ = m.p(kVisual + "embeddings.position_embedding.weight")
                          .view({side, side, m.vision_.hidden_size})
                          .permute({2, 0, 1})
                          .unsqueeze(0)
                          .to(at::kFloat)
                          .contiguous();
  // Upstream normalises the codebook on every call, in the model dtype; doing it once gives the
  // same values.
  m.codebook_ = l2_normalize(m.p(kVq + "quantize.embedding.weight"));
  m.codebook_sq_norms_ = m.codebook_.pow(2).sum(1);
  return m;
}

at::Tensor GlmImageVisionEncoder::patch_embeddings(const at::Tensor& pixel_values) const {
  const at::Tensor& w = p(kVisual + "patch_embed.proj.weight");
  // A conv whose kernel equals its stride over one patch is a matmul over the (c, y, x) row.
  return at::linear(pixel_values.to(w.device(), w.scalar_type()), w.view({vision_.hidden_size, vision_.patch_dim()}),
                    p(kVisual + "patch_embed.proj.bias"));
}

at::Tensor GlmImageVisionEncoder::position_embeddings(const GridThw& grid) const {
  const int64_t h = grid[1], w = grid[2];
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(position_table_.device());
  // Patch centres normalised to [-1, 1] over the image, fp32 as upstream computes them.
  const at::Tensor xs = (at::arange(w, f32) + 0.5) / double(w) * 2 - 1;
  const at::Tensor ys = (at::arange(h, f32) + 0.5) / double(h) * 2 - 1;
  const at::Tensor grid_xy = at::stack({xs.view({1, w}).expand({h, w}), ys.view({h, 1}).expand({h, w})}, -1)
                                 .reshape({1, h * w, 1, 2});
  const at::Tensor sampled = at::grid_sampler(position_table_, grid_xy, kBilinear, kBorderPadding, /*align_corners=*/false);
  const at::Tensor rows = sampled.view({vision_.hidden_size, h * w}).t();  // [h * w, hidden]
  return rows.repeat({grid[0], 1}).to(p(kVisual + "embeddings.position_embedding.weight").scalar_type());
}

at::Tensor GlmImageVisionEncoder::transformer(const at::Tensor& hidden, const std::vector<int64_t>& lengths) const {
  const auto& c = vision_;
  const int64_t n = hidden.size(0), heads = c.num_heads, hd = c.head_dim();
  if (lengths.empty() || std::accumulate(lengths.begin(), lengths.end(), int64_t(0)) != n)
    throw std::invalid_argument("vision encoder: segment lengths must add up to the " + std::to_string(n) + " rows");
  const bool same_length = std::all_of(lengths.begin(), lengths.end(), [&](int64_t l) { return l == lengths[0]; });
  auto linear = [&](const at::Tensor& x, const std::string& name, bool bias) {
    return at::linear(x, p(name + ".weight"), bias ? p(name + ".bias") : at::Tensor());
  };
  // Bidirectional attention within each segment. Equal segments go as one batch; others one by one.
  auto attend = [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {  // [heads, N, hd] each
    if (same_length) {
      const int64_t g = int64_t(lengths.size()), l = lengths[0];
      auto batch = [&](const at::Tensor& t) { return t.view({heads, g, l, hd}).transpose(0, 1); };
      return compat::attention(batch(q), batch(k), batch(v)).permute({0, 2, 1, 3}).reshape({n, heads * hd});
    }
    std::vector<at::Tensor> parts;
    int64_t start = 0;
    for (const int64_t l : lengths) {
      auto seg = [&](const at::Tensor& t) { return t.narrow(1, start, l).unsqueeze(0); };
      parts.push_back(compat::attention(seg(q), seg(k), seg(v)).squeeze(0).transpose(0, 1).reshape({l, heads * hd}));
      start += l;
    }
    return at::cat(parts, 0);
  };
  at::Tensor h = hidden;
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string b = kVisual + "blocks." + std::to_string(i) + ".";
    at::Tensor x = at::layer_norm(h, {c.hidden_size}, p(b + "norm1.weight"), p(b + "norm1.bias"), c.layer_norm_eps);
    const at::Tensor qkv = linear(x, b + "attn.qkv", c.attention_bias).view({n, 3, heads, hd}).permute({1, 2, 0, 3});
    h = h + linear(attend(qkv[0], qkv[1], qkv[2]), b + "attn.proj", c.attention_bias);
    x = at::layer_norm(h, {c.hidden_size}, p(b + "norm2.weight"), p(b + "norm2.bias"), c.layer_norm_eps);
    h = h + linear(at::gelu(linear(x, b + "mlp.fc1", true)), b + "mlp.fc2", true);
  }
  return h;
}

at::Tensor GlmImageVisionEncoder::quantize(const at::Tensor& features) const {
  const at::Tensor& w = p(kVq + "quant_conv.weight");
  const at::Tensor z = l2_normalize(at::linear(features.to(w.scalar_type()), w.view({vq_.embed_dim, vq_.latent_channels}),
                                               p(kVq + "quant_conv.bias")));
  // |z|^2 + |e|^2 - 2 z.e in the model dtype, as upstream forms it; argmin takes the first of ties.
  const at::Tensor distances = (z.pow(2).sum(1, /*keepdim=*/true) + codebook_sq_norms_) - 2 * at::matmul(z, codebook_.t());
  return distances.argmin(1);
}

VisionOutput GlmImageVisionEncoder::encode(const at::Tensor& pixel_values, const std::vector<GridThw>& grids) const {
  if (pixel_values.dim() != 2 || pixel_values.size(1) != vision_.patch_dim())
    throw std::invalid_argument("vision encoder: pixel_values must be [N, " + std::to_string(vision_.patch_dim()) +
                                "], got " + std::to_string(pixel_values.dim()) + "-D with " +
                                std::to_string(pixel_values.dim() == 2 ? pixel_values.size(1) : 0) + " columns");
  if (grids.empty()) throw std::invalid_argument("vision encoder: no image grid");
  std::vector<int64_t> lengths;
  for (const GridThw& g : grids) {
    if (g[0] != 1 || g[1] < 1 || g[2] < 1)
      throw std::invalid_argument("vision encoder: image grid (" + std::to_string(g[0]) + ", " + std::to_string(g[1]) +
                                  ", " + std::to_string(g[2]) + ") must be (1, h, w) with h, w >= 1");
    lengths.push_back(g[1] * g[2]);
  }
  const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t(0));
  if (total != pixel_values.size(0))
    throw std::invalid_argument("vision encoder: the grids hold " + std::to_string(total) + " patches, pixel_values has " +
                                std::to_string(pixel_values.size(0)) + " rows");
  std::vector<at::Tensor> positions;
  for (const GridThw& g : grids) positions.push_back(position_embeddings(g));
  const at::Tensor hidden = patch_embeddings(pixel_values) + at::cat(positions, 0);
  VisionOutput out;
  out.image_features = transformer(hidden, lengths);
  out.vq_ids = quantize(out.image_features);
  return out;
}

}  // namespace glmh
