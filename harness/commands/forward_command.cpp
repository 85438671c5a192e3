#include "harness/commands/forward_command.h"

#include <ATen/ATen.h>

#include <iostream>
#include <limits>

#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/cache/dbcache.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/ar/ar_positions.h"
#include "pipeline/model/ar/ar_generation.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/ar/glm_image_vision.h"
#include "pipeline/model/dit/dit_kv_cache.h"
#include "pipeline/model/dit/glm_image_dit.h"
#include "pipeline/model/model_source.h"
#include "pipeline/model/glyph/t5_encoder.h"
#include "pipeline/model/vae/autoencoder_kl.h"
#include "pipeline/runtime/error_text.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

namespace {

// Component -> its sub-folder in a pipeline root (model_index.json layout).
std::string subfolder_of(const std::string& component) {
  if (component == "ar" || component == "ar-generate" || component == "vision") return "vision_language_encoder";
  if (component == "glyph") return "text_encoder";
  if (component == "dit" || component == "denoise") return "transformer";
  if (component == "vae-decode" || component == "vae-encode") return "vae";
  throw UsageError("glmh forward: unknown component '" + component +
                   "' (ar, ar-generate, vision, glyph, dit, denoise, vae-decode, vae-encode)");
}

class Inputs {
 public:
  Inputs(const std::string& path, std::string component, c10::Device device)
      : file_(SafetensorsFile::open(path)), component_(std::move(component)), device_(device) {}
  bool has(const std::string& name) const { return file_->contains(name); }
  at::Tensor get(const std::string& name) const {
    if (!file_->contains(name))
      throw CheckpointError("inputs '" + file_->path() + "': missing tensor '" + name + "' for component '" +
                            component_ + "'");
    return file_->tensor(name).to(device_);
  }

 private:
  std::shared_ptr<SafetensorsFile> file_;
  std::string component_;
  c10::Device device_;
};

std::vector<GridThw> grids_of(const at::Tensor& image_grid_thw) {
  const at::Tensor g = image_grid_thw.to(at::kLong).cpu().contiguous();
  if (g.dim() != 2 || g.size(1) != 3) throw UsageError("glmh forward: image_grid_thw must be [G, 3]");
  std::vector<GridThw> grids;
  for (int64_t i = 0; i < g.size(0); ++i) grids.push_back({g[i][0].item<int64_t>(), g[i][1].item<int64_t>(), g[i][2].item<int64_t>()});
  return grids;
}

// Upstream's generate(do_sample=False): source images' placeholders replaced by their VQ ids,
// every grid still to generate, the end marker; stopped after the first end marker as upstream
// stops. Grid tokens are not restricted to the codebook (upstream does not restrict them).
at::Tensor greedy_generation(const ComponentCheckpoint& ckpt, const Inputs& in, const c10::Device& device,
                             c10::ScalarType dtype) {
  const auto model = GlmImageTextModel::load(ckpt, device, dtype);
  const auto ids = GlmImageTokenIds::from_json(ckpt.config(), ckpt.dir() + "/config.json");
  at::Tensor input_ids = in.get("input_ids").to(at::kLong);
  if (input_ids.dim() != 2 || input_ids.size(0) != 1) throw UsageError("glmh forward: ar-generate takes input_ids [1, S]");
  const std::vector<GridThw> grids = grids_of(in.get("image_grid_thw"));
  const at::Tensor placeholders = input_ids == ids.image_token_id;
  if (placeholders.any().item<bool>()) {
    const std::vector<GridThw> sources(grids.begin(), grids.end() - 1);
    const auto vision = GlmImageVisionEncoder::load(ckpt, device, dtype);
    input_ids = input_ids.masked_scatter(placeholders, vision.encode(in.get("pixel_values").to(dtype), sources).vq_ids);
  }
  ArGenerationOptions options;
  options.sampling.greedy = true;
  options.restrict_grids_to_codebook = false;
  const at::Tensor generated = generate_image_tokens(model, ids, input_ids, grids, options).generated.cpu();
  const at::Tensor ends = (generated[0] == ids.image_end_token_id).nonzero();
  return ends.numel() ? generated.narrow(1, 0, ends[0][0].item<int64_t>() + 1) : generated;
}

// The pipeline's denoising loop on the DiT, as diffusers' GlmImagePipeline drives it: per step the
// conditional call, then the unconditional one (every prior token dropped, the negative glyph
// embeddings), u + g (c - u), one Euler step; the DiT gets the unshifted t - 1. Image to image
// first writes the reference's K/V (one DiT call at `condition_timestep`, no glyph tokens). With a
// cache profile, the DiT's middle blocks are cached by glmh's DBCache; `cache_hits` says which.
std::map<std::string, at::Tensor> denoise(const ComponentCheckpoint& ckpt, const Inputs& in, const c10::Device& device,
                                          c10::ScalarType dtype, const CacheProfile& profile) {
  const auto dit = GlmImageDiT::load(ckpt, device, dtype);
  const at::Tensor timesteps = in.get("timesteps").to(at::kFloat).cpu(), sigmas = in.get("sigmas").to(at::kFloat).cpu();
  const int64_t steps = timesteps.numel();
  if (sigmas.numel() != steps + 1)
    throw UsageError("glmh forward: denoise needs sigmas [N + 1] for timesteps [N], got " + std::to_string(sigmas.numel()) +
                     " and " + std::to_string(steps));
  const double guidance = in.get("guidance_scale").to(at::kDouble).cpu().reshape({-1})[0].item<double>();
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);

  DiTInputs cond;
  cond.glyph_embeds = in.get("glyph_embeds").to(dtype);
  cond.prior_token_id = in.get("prior_token_id").to(at::kLong);
  cond.prior_token_drop = in.get("prior_token_drop_cond");
  cond.target_size = in.get("target_size").to(at::kFloat);
  cond.crop_coords = in.get("crop_coords").to(at::kFloat);
  DitKvCache kv(dit.config().num_layers);
  const bool image_to_image = in.has("condition_latents");
  if (image_to_image) {
    DiTInputs write;
    write.latents = in.get("condition_latents").to(dtype);
    write.glyph_embeds = at::zeros({1, 0, dit.config().text_embed_dim}, write.latents.options());
    write.prior_token_id = in.get("condition_prior_token_id").to(at::kLong).reshape({1, -1});
    write.prior_token_drop = at::zeros({1}, at::TensorOptions().dtype(at::kBool).device(device));
    write.timestep = in.get("condition_timestep").to(at::kFloat).reshape({1});
    write.target_size = in.get("condition_target_size").to(at::kFloat).reshape({1, 2});
    write.crop_coords = in.get("condition_crop_coords").to(at::kFloat).reshape({1, 2});
    write.kv_cache = &kv;
    write.kv_cache_mode = DitKvCacheMode::kWrite;
    dit.forward(write);
    cond.kv_cache = &kv;
    cond.kv_cache_mode = DitKvCacheMode::kRead;
  }
  DiTInputs uncond = cond;
  uncond.glyph_embeds = in.get("glyph_embeds_uncond").to(dtype);
  uncond.prior_token_drop = in.get("prior_token_drop_uncond");
  uncond.kv_cache_mode = image_to_image ? DitKvCacheMode::kSkip : DitKvCacheMode::kOff;

  std::unique_ptr<DbCache> cache;
  if (profile.enabled) {
    try {
      cache = std::make_unique<DbCache>(profile.for_steps(int(steps)));
      cache->count_condition_writes(image_to_image ? 1 : 0);
    } catch (const CacheConfigError& e) {
      throw UsageError(std::string("glmh forward: --cache: ") + e.what());
    }
    cond.block_cache = uncond.block_cache = cache.get();
  }
  at::Tensor x = in.get("latents").to(at::kFloat);
  for (int64_t k = 0; k < steps; ++k) {
    const at::Tensor t = (timesteps[k] - 1).reshape({1}).to(f32.device());
    cond.latents = uncond.latents = x.to(dtype);
    cond.timestep = uncond.timestep = t;
    if (cache) cache->begin_next_call();
    const at::Tensor c = dit.forward(cond).to(at::kFloat);
    if (cache) cache->begin_next_call();
    const at::Tensor u = dit.forward(uncond).to(at::kFloat);
    x = x + (sigmas[k + 1] - sigmas[k]).item<double>() * (u + guidance * (c - u));
  }
  at::Tensor hits = at::zeros({2, steps}, at::kLong);
  at::Tensor diffs = at::full({2, steps}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
  if (cache)
    for (CfgBranch b : {CfgBranch::Cond, CfgBranch::Uncond})
      for (const CacheDecision& d : cache->decisions(b))
        if (d.step >= 0 && d.step < steps) {
          hits[int(b)][d.step] = d.hit ? 1 : 0;
          if (d.diff >= 0) diffs[int(b)][d.step] = d.diff;
        }
  return {{"latents", x}, {"cache_hits", hits}, {"cache_diffs", diffs}};
}

// position_ids as upstream's text model takes them: [batch, seq] (the same position on all three
// rotary axes), [3, batch, seq] (t, h, w), or [4, batch, seq] (a text row first, then t, h, w).
at::Tensor multimodal_position_ids(const at::Tensor& pos, const at::Tensor& ids) {
  const std::vector<int64_t> bs{ids.size(0), ids.size(1)};
  if (pos.dim() == 2 && pos.sizes().vec() == bs) return pos.unsqueeze(0).expand({3, bs[0], bs[1]});
  if (pos.dim() == 3 && pos.size(1) == bs[0] && pos.size(2) == bs[1]) {
    if (pos.size(0) == 3) return pos;
    if (pos.size(0) == 4) {
      // The text row only shapes upstream's mask: one that restarts (packed sequences) would make
      // it block-diagonal, which glmh's causal attention is not.
      const at::Tensor plain = at::arange(bs[1], pos.options()).expand({bs[0], bs[1]});
      if (!at::equal(pos[0].to(at::kCPU), plain.to(at::kCPU)))
        throw UsageError("glmh forward: tensor 'position_ids' [4, batch, seq]: its text row is not 0 .. seq-1 "
                         "(packed sequences are not supported)");
      return pos.narrow(0, 1, 3);
    }
  }
  throw UsageError("glmh forward: tensor 'position_ids' has shape " + shape_text(pos.sizes()) + "; with input_ids " +
                   shape_text(ids.sizes()) + " it must be " + shape_text(bs) + ", " + shape_text({3, bs[0], bs[1]}) + " or " +
                   shape_text({4, bs[0], bs[1]}));
}

std::map<std::string, at::Tensor> run(const std::string& component, const ComponentCheckpoint& ckpt,
                                      const Inputs& in, const c10::Device& device, c10::ScalarType dtype,
                                      const CacheProfile& cache) {
  if (component == "denoise") return denoise(ckpt, in, device, dtype, cache);
  if (component == "ar-generate") return {{"generated_ids", greedy_generation(ckpt, in, device, dtype)}};
  if (component == "ar") {
    const auto model = GlmImageTextModel::load(ckpt, device, dtype);
    const at::Tensor ids = in.get("input_ids");
    if (ids.dim() != 2)
      throw UsageError("glmh forward: tensor 'input_ids' has shape " + shape_text(ids.sizes()) + ", expected [batch, seq]");
    at::Tensor pos;
    if (in.has("position_ids")) {
      pos = multimodal_position_ids(in.get("position_ids"), ids);
    } else if (in.has("image_grid_thw")) {
      // Prefill positions as upstream's get_rope_index builds them (batch 1).
      if (ids.size(0) != 1) throw UsageError("glmh forward: image_grid_thw needs input_ids of batch 1");
      const std::vector<GridThw> grids = grids_of(in.get("image_grid_thw"));
      const at::Tensor host_ids = ids.to(at::kLong).cpu().contiguous();
      const std::vector<int64_t> id_list(host_ids.data_ptr<int64_t>(), host_ids.data_ptr<int64_t>() + host_ids.numel());
      const auto& cfg = ckpt.config();
      pos = glm_image_rope_index(id_list, grids, cfg.value("image_start_token_id", int64_t(16384)),
                                 cfg.value("image_end_token_id", int64_t(16385)))
                .prefill.unsqueeze(1)
                .to(device);
    } else {
      pos = at::arange(ids.size(1), ids.options()).view({1, 1, -1}).expand({3, ids.size(0), ids.size(1)});
    }
    return {{"logits", model.forward(ids, pos)}};
  }
  if (component == "vision") {
    const auto encoder = GlmImageVisionEncoder::load(ckpt, device, dtype);
    const std::vector<GridThw> grids = grids_of(in.get("image_grid_thw"));
    VisionOutput out;
    try {
      out = encoder.encode(in.get("pixel_values"), grids);
    } catch (const std::invalid_argument& e) {  // inputs that do not fit together
      throw UsageError(std::string("glmh forward: ") + e.what());
    }
    return {{"image_features", out.image_features}, {"vq_ids", out.vq_ids}};
  }
  if (component == "glyph") {
    const auto model = T5Encoder::load(ckpt, device, dtype);
    const at::Tensor ids = in.get("input_ids");
    const at::Tensor mask = in.has("attention_mask") ? in.get("attention_mask") : at::ones_like(ids);
    return {{"last_hidden_state", model.forward(ids, mask)}};
  }
  if (component == "dit") {
    const auto model = GlmImageDiT::load(ckpt, device, dtype);
    DiTInputs x;
    x.latents = in.get("hidden_states");
    x.glyph_embeds = in.get("encoder_hidden_states");
    x.prior_token_id = in.get("prior_token_id");
    x.prior_token_drop = in.get("prior_token_drop");
    x.timestep = in.get("timestep");
    x.target_size = in.get("target_size");
    x.crop_coords = in.get("crop_coords");
    return {{"sample", model.forward(x)}};
  }
  const auto vae = AutoencoderKL::load(ckpt, device, dtype);
  if (component == "vae-decode") return {{"sample", vae.decode(in.get("latents").to(dtype))}};
  return {{"latent_mean", vae.encode_mode(in.get("sample").to(dtype))}};
}

}  // namespace

int forward_command(const std::vector<std::string>& raw_args) {
  const std::vector<OptionSpec> specs = {
      {"checkpoint", "DIR", "a pipeline root (model_index.json), a component folder or a preset (tiny, small, full)", ""},
      {"component", "C", "ar, ar-generate, vision, glyph, dit, denoise, vae-decode or vae-encode", ""},
      {"cache", "PROFILE", "denoise: DiT block caching (none, cache-dit@VERSION, [cache-dit@VERSION:]CONFIG)", "none"},
      {"inputs", "IN.safetensors", "input tensors, named as upstream's forward arguments", ""},
      {"out", "OUT.safetensors", "where the outputs go (written atomically)", ""},
      {"dtype", "fp32|bf16", "compute dtype", "fp32"},
      {"device", "cpu|cuda", "compute device", "cpu"},
      {"help", "", "show this help", ""},
  };
  RankLog log;
  try {
    const CliArgs args = CliArgs::parse("forward", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text("forward",
                                      "Runs one component's forward pass on the tensors of IN and writes its outputs to\n"
                                      "OUT (fp32): ar -> logits, ar-generate -> generated_ids (greedy, int64),\n"
                                      "vision -> image_features and vq_ids (int64),\n"
                                      "glyph -> last_hidden_state, dit -> sample,\n"
                                      "denoise -> latents (the loop's result) and cache_hits (int64 [2, N]:\n"
                                      "conditional, unconditional; 1 = middle blocks from the cache) and\n"
                                      "cache_diffs (float64 [2, N]: the threshold test's value, NaN where none ran),\n"
                                      "vae-decode -> sample, vae-encode -> latent_mean.",
                                      specs);
      return kExitOk;
    }
    for (const char* required : {"checkpoint", "component", "inputs", "out"})
      if (!args.given(required)) throw UsageError(std::string("glmh forward: --") + required + " is required");
    const std::string component = args.str("component");
    const std::string sub = subfolder_of(component);
    const std::string dtype_name = args.str("dtype"), device_name = args.str("device");
    if (dtype_name != "fp32" && dtype_name != "bf16") throw UsageError("glmh forward: --dtype must be fp32 or bf16");
    if (device_name != "cpu" && device_name != "cuda") throw UsageError("glmh forward: --device must be cpu or cuda");
    const c10::ScalarType dtype = dtype_name == "bf16" ? at::kBFloat16 : at::kFloat;
    const c10::Device device(device_name == "cuda" ? c10::kCUDA : c10::kCPU);
    std::string dir = args.str("checkpoint");
    if (posix_fs::exists(dir + "/model_index.json")) dir += "/" + sub;
    const auto ckpt = is_preset_name(dir) ? ModelSource::open(dir).component(sub) : ComponentCheckpoint::open(dir);
    const Inputs inputs(args.str("inputs"), component, device);
    std::map<std::string, at::Tensor> outputs;
    CacheProfile cache;
    try {
      cache = parse_cache_profile(args.str("cache"));
    } catch (const CacheConfigError& e) {
      throw UsageError(std::string("glmh forward: --cache: ") + e.what());
    }
    for (auto& [name, t] : run(component, ckpt, inputs, device, dtype, cache))
      outputs[name] = t.is_floating_point() ? t.to(at::kFloat).cpu() : t.cpu();  // ids stay integers
    std::map<std::string, std::string> metadata = {{"component", component}, {"dtype", dtype_name}};
    if (cache.enabled) metadata["cache"] = cache.describe();  // how glmh cache-diff --ours reads the decisions
    write_safetensors(args.str("out"), outputs, metadata);
    return kExitOk;
  } catch (const UsageError& e) {
    log.error(e.what());
    return kExitUsage;
  } catch (const CheckpointError& e) {
    log.error(e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    log.error("glmh forward: ", one_line_error(e));
    return kExitInfrastructure;
  }
}

}  // namespace glmh
