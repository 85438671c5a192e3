#include "pipeline/model/ar/glm_image_text_model.h"

#include <ATen/ATen.h>

#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"
#include "pipeline/kernels/add_rms_norm_pair.h"
#include "pipeline/kernels/decode_attention.h"
#include "pipeline/kernels/decode_linear.h"
#include "pipeline/kernels/rotary_neox_partial.h"
#include "pipeline/model/activation.h"
#include "pipeline/model/ar/ar_tensor_parallel.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/torch_compat.h"
#include "pipeline/model/ar/ar_kv_cache.h"

namespace glmh {

namespace {
const std::string kPrefix = "model.language_model.";
}

std::pair<at::Tensor, at::Tensor> mrope_cos_sin(const GlmImageTextConfig& c, const at::Tensor& position_ids) {
  const int64_t dim = c.rotary_dim();
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(position_ids.device());
  const at::Tensor inv_freq = 1.0 / at::pow(c.rope_theta, at::arange(0, dim, 2, f32) / double(dim));  // [dim/2]
  const at::Tensor freqs = position_ids.to(at::kFloat).unsqueeze(-1) * inv_freq;                      // [3, B, S, dim/2]
  // Frequency block i takes its angle from axis i (t, h, w).
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (size_t axis = 0; axis < c.mrope_section.size(); ++axis) {
    parts.push_back(freqs[axis % 3].narrow(-1, start, c.mrope_section[axis]));
    start += c.mrope_section[axis];
  }
  const at::Tensor picked = at::cat(parts, -1);
  const at::Tensor doubled = at::cat({picked, picked}, -1);  // NeoX: pair d with d + dim/2
  return {doubled.cos(), doubled.sin()};
}

GlmImageTextModel GlmImageTextModel::load(const ComponentCheckpoint& ckpt, const c10::Device& device, c10::ScalarType dtype) {
  GlmImageTextModel m;
  m.config_ = GlmImageTextConfig::from_json(ckpt.config(), ckpt.dir() + "/config.json");
  m.params_ = load_parameters(ckpt, glm_image_text_parameter_shapes(m.config_), device, dtype);
  m.resolve_layers();
  return m;
}

void GlmImageTextModel::resolve_layers() {
  layers_.clear();
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string l = kPrefix + "layers." + std::to_string(i) + ".";
    // One [q; k; v] tensor; the table keeps q, k and v as views of it, so no memory is doubled.
    auto fuse = [&](const std::string& kind) {
      const std::string a = l + "self_attn.";
      return fuse_rows_as_views(params_, {a + "q_proj." + kind, a + "k_proj." + kind, a + "v_proj." + kind});
    };
    LayerWeights w;
    w.input_norm = p(l + "input_layernorm.weight");
    w.qkv_weight = fuse("weight");
    if (config_.attention_bias) w.qkv_bias = fuse("bias");
    w.o_proj = p(l + "self_attn.o_proj.weight");
    w.post_self_attn_norm = p(l + "post_self_attn_layernorm.weight");
    w.post_attention_norm = p(l + "post_attention_layernorm.weight");
    w.gate_up = p(l + "mlp.gate_up_proj.weight");
    w.down = p(l + "mlp.down_proj.weight");
    w.post_mlp_norm = p(l + "post_mlp_layernorm.weight");
    layers_.push_back(std::move(w));
  }
}

bool GlmImageTextModel::decode_step_captures() const { return tp_size_ == 1 || tp_->captures_in_cuda_graphs(); }

GlmImageTextModel GlmImageTextModel::shard_for_tp(Communicator& tp) const {
  if (tp_size_ != 1) throw std::logic_error("the AR model is already sharded for tensor parallelism");
  GlmImageTextModel m;
  m.config_ = config_;
  m.params_ = shard_ar_parameters_for_tp(params_, config_, tp.rank(), tp.size());
  m.config_.head_dim = config_.head_size();  // fixed before the head count becomes local
  m.config_.num_attention_heads /= tp.size();
  m.config_.num_key_value_heads /= tp.size();
  m.config_.intermediate_size /= tp.size();
  m.tp_ = &tp;
  m.tp_rank_ = tp.rank();
  m.tp_size_ = tp.size();
  m.resolve_layers();
  return m;
}

at::Tensor GlmImageTextModel::embed(const at::Tensor& input_ids) const {
  const at::Tensor& table = p(kPrefix + "embed_tokens.weight");
  if (tp_size_ == 1) return at::embedding(table, input_ids);
  // Vocabulary-parallel: this rank's rows [first, first + n); other ids contribute zeros.
  const int64_t n = table.size(0), first = tp_rank_ * n;
  const at::Tensor local = input_ids - first;
  const at::Tensor mine = (local >= 0) & (local < n);
  at::Tensor h = at::embedding(table, local.clamp(0, n - 1)) * mine.unsqueeze(-1).to(table.scalar_type());
  tp_->all_reduce(h);
  return h;
}

at::Tensor GlmImageTextModel::row_parallel(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor y = decode_linear(x, weight);
  if (tp_size_ > 1) tp_->all_reduce(y);
  return y;
}

at::Tensor GlmImageTextModel::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  return compat::rms_norm(x, weight, config_.rms_norm_eps);
}

at::Tensor GlmImageTextModel::forward(const at::Tensor& input_ids, const at::Tensor& position_ids) const {
  return logits(hidden_states(input_ids, position_ids));
}

at::Tensor GlmImageTextModel::logits(const at::Tensor& hidden) const {
  const at::Tensor local = decode_linear(hidden, p("lm_head.weight"));
  if (tp_size_ == 1) return local;
  // Every rank's vocabulary slice, gathered along the vocabulary (all_gather stacks dim 0).
  const at::Tensor slices = local.movedim(-1, 0).contiguous();
  auto sizes = slices.sizes().vec();
  sizes[0] *= tp_size_;
  at::Tensor all = at::empty(sizes, slices.options());
  tp_->all_gather(all, slices);
  return all.movedim(0, -1);
}

at::Tensor GlmImageTextModel::hidden_states(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                            ArKvCache* cache, const at::Tensor& decode_slot) const {
  const auto& c = config_;
  const int64_t batch = input_ids.size(0), seq = input_ids.size(1), hd = c.head_size(), rot = c.rotary_dim();
  const int64_t heads = c.num_attention_heads, kv_heads = c.num_key_value_heads, group = heads / kv_heads;
  const bool decode = cache != nullptr && (cache->length() > 0 || decode_slot.defined());
  if (decode && seq != 1)
    throw std::invalid_argument("GlmImageTextModel: a cached forward takes one token after the prefill, got " +
                                std::to_string(seq));
  at::Tensor h = embed(input_ids);
  const c10::ScalarType dtype = h.scalar_type();
  auto [cos, sin] = mrope_cos_sin(c, position_ids);
  cos = cos.to(dtype).unsqueeze(1);  // [B, 1, S, rot]
  // NeoX rotation of the first `rot` dims: r * cos + (-r2, r1) * sin = r * cos + (r2, r1) * (-sin1, sin2),
  // with the signs folded into sin once per forward instead of a negation per layer.
  sin = sin.to(dtype).unsqueeze(1);
  sin = at::cat({-sin.narrow(-1, 0, rot / 2), sin.narrow(-1, rot / 2, rot / 2)}, -1);
  cos = cos.contiguous();
  sin = sin.contiguous();
  const bool device_slot = decode && decode_slot.defined();
  const at::Tensor valid_keys = !decode ? at::Tensor()  // once per step, for every layer
                                : device_slot ? cache->valid_keys_through(decode_slot) : cache->valid_keys(seq);
  // Sandwich norms: each sublayer's output is normalised into the residual stream, and the next
  // sublayer's input is the normalised stream; add_rms_norm_pair does both in one step.
  const at::Tensor& final_norm = p(kPrefix + "norm.weight");
  at::Tensor normed = rms_norm(h, layers_.empty() ? final_norm : layers_.front().input_norm);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const LayerWeights& w = layers_[static_cast<size_t>(i)];
    // One product for q, k and v ([B, heads + 2 kv_heads, S, hd]), one rotation for q and k.
    const at::Tensor qkv = decode_linear(normed, w.qkv_weight, w.qkv_bias)
                               .view({batch, seq, heads + 2 * kv_heads, hd})
                               .transpose(1, 2);
    at::Tensor q, k, v;
    if (device_slot) {
      // A decode step: q rotated, k rotated and v into the cache slot, in one step.
      q = rotary_qk_into_kv_cache(qkv, cos, sin, rot, heads, cache->key_buffer(i), cache->value_buffer(i), decode_slot);
    } else {
      const at::Tensor qk = rotary_neox_partial(qkv.narrow(1, 0, heads + kv_heads), cos, sin, rot);
      q = qk.narrow(1, 0, heads);
      k = qk.narrow(1, heads, kv_heads);
      v = qkv.narrow(1, heads + kv_heads, kv_heads);
      if (cache) std::tie(k, v) = cache->append(i, k, v);
    }
    at::Tensor attn;
    if (decode) {
      // One query per head: the `group` query heads that share a KV head become that KV head's
      // queries, so the cache is read once per KV head instead of being expanded `group` times.
      // Over the whole buffer, of which the first valid_keys slots count: the same shapes every step.
      attn = decode_attention(q.reshape({batch, kv_heads, group, hd}), cache->key_buffer(i), cache->value_buffer(i),
                              valid_keys)
                 .reshape({batch, heads, 1, hd});
    } else {
      auto expand = [&](const at::Tensor& t) {
        return t.unsqueeze(2).expand({batch, kv_heads, group, t.size(2), hd}).reshape({batch, heads, t.size(2), hd});
      };
      attn = compat::causal_attention(q, expand(k), expand(v));
    }
    attn = attn.transpose(1, 2).reshape({batch, seq, heads * hd});
    std::tie(h, normed) = add_rms_norm_pair(h, row_parallel(attn, w.o_proj), w.post_self_attn_norm,
                                            w.post_attention_norm, c.rms_norm_eps);
    at::Tensor activated;
    if (config_.hidden_act == Activation::Silu) {
      activated = decode_silu_gated_up(normed, w.gate_up);
    } else {
      const auto gate_up = at::linear(normed, w.gate_up).chunk(2, -1);
      activated = gate_up[1] * apply_activation(config_.hidden_act, gate_up[0]);
    }
    const at::Tensor mlp = row_parallel(activated, w.down);
    const bool last = i + 1 == c.num_hidden_layers;
    std::tie(h, normed) = add_rms_norm_pair(h, mlp, w.post_mlp_norm,
                                            last ? final_norm : layers_[static_cast<size_t>(i + 1)].input_norm,
                                            c.rms_norm_eps);
  }
  if (cache && !device_slot) cache->advance(seq);
  return normed;
}

}  // namespace glmh
