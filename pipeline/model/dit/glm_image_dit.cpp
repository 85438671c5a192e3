#include "pipeline/model/dit/glm_image_dit.h"

#include <ATen/ATen.h>

#include <cmath>

#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"
#include "pipeline/kernels/head_norm_rotary.h"
#include "pipeline/kernels/layer_norm_modulate.h"
#include "pipeline/kernels/linear_gelu_tanh.h"
#include "pipeline/parallel/dit_tensor_parallel.h"
#include "pipeline/parallel/sequence_parallel_attention.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

namespace {

constexpr double kNormEps = 1e-5;
constexpr const char* kFusedQkv = ".attn1.to_qkv.";

// Every block's q, k and v projections as one [3 D, D] weight and [3 D] bias: one GEMM where there
// were three (docs/performance.md#fused-kernels). The q, k and v entries become views of the fused
// tensor, so no memory is added.
void fuse_qkv_projections(std::map<std::string, at::Tensor>& params, int64_t layers) {
  for (int64_t i = 0; i < layers; ++i) {
    const std::string attn = "transformer_blocks." + std::to_string(i) + ".attn1.";
    for (const std::string kind : {"weight", "bias"})
      params[attn + "to_qkv." + kind] =
          fuse_rows_as_views(params, {attn + "to_q." + kind, attn + "to_k." + kind, attn + "to_v." + kind});
  }
}

// The checkpoint's own parameters: the fused projections left out (they are rebuilt after a TP split).
std::map<std::string, at::Tensor> without_fused_projections(const std::map<std::string, at::Tensor>& params) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : params)
    if (name.find(kFusedQkv) == std::string::npos) out.emplace(name, t);
  return out;
}

}  // namespace

at::Tensor sinusoidal_embedding(const at::Tensor& values, int64_t dim) {
  const int64_t half = dim / 2;
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(values.device());
  const at::Tensor exponent = at::arange(half, f32) * (-std::log(10000.0) / double(half));
  const at::Tensor angles = values.to(at::kFloat).unsqueeze(1) * at::exp(exponent).unsqueeze(0);
  return at::cat({at::cos(angles), at::sin(angles)}, -1);
}

GlmImageDiT GlmImageDiT::from_tensors(const GlmImageDiTConfig& config,
                                      const std::map<std::string, at::Tensor>& tensors) {
  GlmImageDiT m;
  m.config_ = config;
  m.params_ = take_parameters(dit_parameter_shapes(config), tensors, "DiT");
  fuse_qkv_projections(m.params_, config.num_layers);
  return m;
}

GlmImageDiT GlmImageDiT::load(const ComponentCheckpoint& ckpt, const c10::Device& device, c10::ScalarType dtype) {
  GlmImageDiT m;
  m.config_ = GlmImageDiTConfig::from_json(ckpt.config(), ckpt.dir() + "/config.json");
  m.params_ = load_parameters(ckpt, dit_parameter_shapes(m.config_), device, dtype);
  fuse_qkv_projections(m.params_, m.config_.num_layers);
  return m;
}

GlmImageDiT GlmImageDiT::shard_for_tp(int64_t rank, int64_t size) const {
  if (tp_size_ != 1) throw std::logic_error("the DiT is already sharded for tensor parallelism");
  if (config_.num_attention_heads % size != 0)
    throw std::invalid_argument("DiT: " + std::to_string(config_.num_attention_heads) +
                                " attention heads do not split over tp " + std::to_string(size));
  GlmImageDiT m;
  m.config_ = config_;
  m.params_ = shard_dit_parameters_for_tp(without_fused_projections(params_), rank, size);
  fuse_qkv_projections(m.params_, config_.num_layers);
  m.tp_size_ = size;
  return m;
}

GlmImageDiT GlmImageDiT::first_blocks(int64_t blocks) const {
  if (blocks < 1 || blocks > config_.num_layers)
    throw std::invalid_argument("DiT: " + std::to_string(blocks) + " blocks asked of a model of " +
                                std::to_string(config_.num_layers));
  GlmImageDiT m = *this;
  m.config_.num_layers = blocks;
  return m;
}

at::Tensor GlmImageDiT::linear(const at::Tensor& x, const std::string& prefix) const {
  return at::linear(x, p(prefix + ".weight"), p(prefix + ".bias"));
}

at::Tensor GlmImageDiT::row_parallel_linear(const at::Tensor& x, const std::string& prefix,
                                            const DitParallelism* parallel) const {
  if (tp_size_ == 1) return linear(x, prefix);
  // The bias rides in TP rank 0's partial sum (inside its GEMM), not in a pass after the all-reduce.
  const at::Tensor bias = parallel->tp->rank() == 0 ? p(prefix + ".bias") : at::Tensor();
  at::Tensor partial = at::linear(x, p(prefix + ".weight"), bias);
  if (parallel->fault_fp16_all_reduce) {
    at::Tensor wire = partial.to(at::kHalf);
    parallel->tp->all_reduce(wire);
    return wire.to(x.scalar_type());
  }
  parallel->tp->all_reduce(partial);
  return partial;
}

at::Tensor GlmImageDiT::time_condition_embedding(const DiTInputs& in, c10::ScalarType dtype) const {
  const int64_t b = in.timestep.size(0);
  const at::Tensor t_proj = sinusoidal_embedding(in.timestep.reshape({b}), config_.time_embed_dim);
  const at::Tensor crop = sinusoidal_embedding(in.crop_coords.reshape({-1}), config_.condition_dim).view({b, -1});
  const at::Tensor size = sinusoidal_embedding(in.target_size.reshape({-1}), config_.condition_dim).view({b, -1});
  const std::string te = "time_condition_embed.timestep_embedder.", ce = "time_condition_embed.condition_embedder.";
  const at::Tensor t_emb = linear(at::silu(linear(t_proj.to(dtype), te + "linear_1")), te + "linear_2");
  const at::Tensor c_emb =
      linear(at::silu(linear(at::cat({crop, size}, 1).to(dtype), ce + "linear_1")), ce + "linear_2");
  return at::silu(t_emb + c_emb);
}

void GlmImageDiT::block(int64_t index, at::Tensor& x, at::Tensor& c, const at::Tensor& temb,
                        const at::Tensor& cos, const at::Tensor& sin, const DiTInputs& in) const {
  const std::string b = "transformer_blocks." + std::to_string(index) + ".";
  // 12-way AdaLN in upstream's interleaved order.
  const auto m = linear(temb, b + "norm1.linear").chunk(12, 1);
  const at::Tensor &shift_msa = m[0], &c_shift_msa = m[1], &scale_msa = m[2], &c_scale_msa = m[3],
                   &gate_msa = m[4], &c_gate_msa = m[5], &shift_mlp = m[6], &c_shift_mlp = m[7],
                   &scale_mlp = m[8], &c_scale_mlp = m[9], &gate_mlp = m[10], &c_gate_mlp = m[11];
  const int64_t text_len = c.size(1), heads = config_.num_attention_heads / tp_size_,
                head_dim = config_.attention_head_dim;
  const int64_t batch = x.size(0), seq = text_len + x.size(1);
  // AdaLN of each stream written straight into its rows of the joint sequence (docs/performance.md#fused-kernels).
  auto joint_modulated = [&](const at::Tensor& text_scale, const at::Tensor& text_shift, const at::Tensor& image_scale,
                             const at::Tensor& image_shift) {
    at::Tensor joint = at::empty({batch, seq, x.size(2)}, x.options());
    layer_norm_modulate_into(joint.narrow(1, 0, text_len), c, text_scale, text_shift, kNormEps);
    layer_norm_modulate_into(joint.narrow(1, text_len, seq - text_len), x, image_scale, image_shift, kNormEps);
    return joint;
  };
  const at::Tensor joint = joint_modulated(c_scale_msa, c_shift_msa, scale_msa, shift_msa);
  // q, k and v from one product; each a view of its third ([B, S, heads, head_dim], rows strided).
  const at::Tensor qkv = linear(joint, b + "attn1.to_qkv");
  auto heads_of = [&](int64_t part) {
    return qkv.narrow(2, part * heads * head_dim, heads * head_dim).view({batch, seq, heads, head_dim});
  };
  // Per-head QK LayerNorm, then RoPE on the image tokens only.
  at::Tensor q = head_norm_rotary(heads_of(0), text_len, cos, sin, kNormEps);
  at::Tensor k = head_norm_rotary(heads_of(1), text_len, cos, sin, kNormEps);
  at::Tensor v = heads_of(2);
  // Reference-image KV cache: after QK-LN and RoPE, as upstream; queries stay the current tokens.
  std::tie(k, v) = keys_values_to_attend(in.kv_cache, in.kv_cache_mode, index, k, v);
  at::Tensor attn;
  if (in.parallel && in.parallel->sp)
    attn = (*in.parallel->sp)(q, k, v, text_len);
  else
    attn = compat::attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2);
  attn = row_parallel_linear(attn.reshape({batch, seq, heads * head_dim}), b + "attn1.to_out.0", in.parallel);
  c = at::addcmul(c, attn.narrow(1, 0, text_len), c_gate_msa.unsqueeze(1));
  x = at::addcmul(x, attn.narrow(1, text_len, seq - text_len), gate_msa.unsqueeze(1));

  // Text and image tokens through the feed-forward together: one all-reduce under TP.
  const at::Tensor ff_in = joint_modulated(c_scale_mlp, c_shift_mlp, scale_mlp, shift_mlp);
  const std::string ff0 = b + "ff.net.0.proj";
  const at::Tensor ff = row_parallel_linear(linear_gelu_tanh(ff_in, p(ff0 + ".weight"), p(ff0 + ".bias")),
                                            b + "ff.net.2", in.parallel);
  x = at::addcmul(x, ff.narrow(1, text_len, seq - text_len), gate_mlp.unsqueeze(1));
  c = at::addcmul(c, ff.narrow(1, 0, text_len), c_gate_mlp.unsqueeze(1));
}

at::Tensor GlmImageDiT::forward(const DiTInputs& in) const {
  const auto& c = config_;
  const int64_t batch = in.latents.size(0), ph = c.patch_size;
  const int64_t grid_h = in.latents.size(2) / ph, grid_w = in.latents.size(3) / ph;
  const c10::ScalarType dtype = p("proj_out.weight").scalar_type();
  check_kv_cache_use(in.kv_cache, in.kv_cache_mode, c.num_layers);
  const int64_t tp_given = in.parallel && in.parallel->tp ? in.parallel->tp->size() : 1;
  if (tp_given != tp_size_)
    throw std::invalid_argument("DiT sharded for tp " + std::to_string(tp_size_) + " run with a TP group of " +
                                std::to_string(tp_given));

  if (in.parallel && in.parallel->sp && !in.rotary_cos.defined())
    throw std::invalid_argument("DiT under sequence parallelism needs this rank's rotary rows (rotary_cos/sin)");
  at::Tensor cos = in.rotary_cos, sin = in.rotary_sin;
  if (!cos.defined()) std::tie(cos, sin) = get_freqs_cis(grid_h, grid_w, c.attention_head_dim);
  cos = cos.to(in.latents.device());
  sin = sin.to(in.latents.device());

  // Patchify: [B, C, Hp*p, Wp*p] -> [B, Hp*Wp, C*p*p], features ordered (c, py, px).
  at::Tensor x = in.latents.to(dtype)
                     .reshape({batch, c.in_channels, grid_h, ph, grid_w, ph})
                     .permute({0, 2, 4, 1, 3, 5})
                     .reshape({batch, grid_h * grid_w, c.in_channels * ph * ph});
  x = linear(x, "image_projector.proj");
  at::Tensor text = linear(at::gelu(linear(in.glyph_embeds.to(dtype), "glyph_projector.net.0.proj")),
                           "glyph_projector.net.2");
  at::Tensor prior = at::embedding(p("prior_token_embedding.weight"), in.prior_token_id);
  at::Tensor keep = at::logical_not(in.prior_token_drop.to(at::kBool));
  while (keep.dim() < prior.dim()) keep = keep.unsqueeze(-1);
  prior = prior * keep.to(dtype);
  x = x + linear(at::silu(linear(prior, "prior_projector.net.0.proj")), "prior_projector.net.2");

  const at::Tensor temb = time_condition_embedding(in, dtype);
  if (!in.block_cache) {
    for (int64_t i = 0; i < c.num_layers; ++i) block(i, x, text, temb, cos, sin, in);
  } else {
    DitBlockCache& cache = *in.block_cache;
    const int64_t n = c.num_layers, fn = cache.first_blocks(), bn = cache.last_blocks();
    if (fn < 1 || bn < 0 || fn + bn > n)
      throw std::invalid_argument("block cache: Fn " + std::to_string(fn) + " and Bn " + std::to_string(bn) +
                                  " do not fit the DiT's " + std::to_string(n) + " blocks (Fn >= 1, Fn + Bn <= " +
                                  std::to_string(n) + ")");
    const at::Tensor x_in = x;
    for (int64_t i = 0; i < fn; ++i) block(i, x, text, temb, cos, sin, in);
    const at::Tensor fn_residual = x - x_in;
    if (cache.serve_from_cache(fn_residual)) {
      cache.apply_cached(x, text);
    } else {
      const at::Tensor x_fn = x, text_fn = text;
      for (int64_t i = fn; i < n - bn; ++i) block(i, x, text, temb, cos, sin, in);
      cache.store(fn_residual, x - x_fn, text - text_fn);
    }
    for (int64_t i = n - bn; i < n; ++i) block(i, x, text, temb, cos, sin, in);
  }

  const auto scale_shift = linear(temb, "norm_out.linear").chunk(2, 1);  // scale first, then shift
  x = linear(layer_norm_modulate(x, scale_shift[0], scale_shift[1], kNormEps), "proj_out");
  // Unpatchify: [B, Hp*Wp, C*p*p] -> [B, C, Hp*p, Wp*p].
  return x.reshape({batch, grid_h, grid_w, c.out_channels, ph, ph})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({batch, c.out_channels, grid_h * ph, grid_w * ph});
}

}  // namespace glmh
