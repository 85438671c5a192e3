#include "pipeline/glm_image/glm_image_stages.h"

#include <ATen/ATen.h>

#include <cmath>

#include "pipeline/glm_image/glm_image_ar_inputs.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/cache/dbcache.h"
#include "pipeline/executor/request.h"
#include "pipeline/model/ar/glm_image_image_processor.h"
#include "pipeline/model/ar/prior_tokens.h"
#include "pipeline/model/dit/dit_forward_graph.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/model/glyph/glyph_text.h"
#include "pipeline/parallel/sequence_parallel_attention.h"
#include "pipeline/parallel/sp_sharding.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/device_timeline.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

const auto kLong = at::TensorOptions().dtype(at::kLong);

class GlmImageArStage final : public Stage {
 public:
  GlmImageArStage(std::shared_ptr<GlmImageModels> m, GlmImageRunOptions o) : m_(std::move(m)), o_(std::move(o)) {}
  std::string name() const override { return "glm_image.ar"; }
  StageParallelism parallelism() const override {
    switch (o_.fault) {
      case GlmImageFault::SkipBroadcast: return StageParallelism::MainRankOnly;
      case GlmImageFault::ArPerRankSeed:
      case GlmImageFault::CfgRankSource: return StageParallelism::Replicated;
      default: break;
    }
    // tp: every rank runs the body, each TP group as one AR model.
    return o_.ar_strategy == ArStrategy::MainRank ? StageParallelism::MainRankOnlyAndSendToOthers
                                                  : StageParallelism::Replicated;
  }

  void run(Request& r, RankContext& ctx) override {
    // cfg-rank-source: only the CFG-rank-0 ranks generate; the others get their CFG group's
    // tokens in glm_image.ar_share.
    if (o_.fault == GlmImageFault::CfgRankSource && ctx.coords().cfg_rank != 0) return;
    GlmImageParams p = glm_image_params(r);
    // The bugs' random streams: upstream sampled without a shared generator, so each rank drew
    // its own tokens.
    if (o_.fault == GlmImageFault::ArPerRankSeed || o_.fault == GlmImageFault::CfgRankSource)
      p.seed += static_cast<uint64_t>(ctx.rank());
    // ar-seed-from-layout: a launcher that derives the sampler's seed from the layout.
    if (o_.fault == GlmImageFault::ArSeedFromLayout) p.seed += static_cast<uint64_t>(ctx.world_size());
    const GlmImageArInputs in = glm_image_ar_inputs(*m_, p);
    if (in.source_vq_ids.defined()) {
      // The reference's d32 tokens, 2x upsampled: the DiT's prior ids for the reference pass.
      GenerationPlan reference;
      reference.target_h = in.source_grids[0][1];
      reference.target_w = in.source_grids[0][2];
      r.set_tensor(field::kReferencePriorIds, prior_tokens_from_generated(in.source_vq_ids, reference));
    }
    ArGenerationOptions options;
    options.sampling = p.sampling;
    options.seed = p.seed;
    options.on_token = o_.on_ar_token;
    options.use_cuda_graph = o_.ar_cuda_graph;
    const ArGeneration gen = generate_image_tokens(m_->ar(), m_->token_ids(), in.input_ids, in.grids, options);
    const GenerationPlan plan = plan_generation(in.grids, in.source_grids.empty());
    r.set_tensor(field::kGeneratedIds, gen.generated);
    r.set_tensor(field::kPriorTokenId, prior_tokens_from_generated(gen.generated, plan));
  }

 private:
  std::shared_ptr<GlmImageModels> m_;
  GlmImageRunOptions o_;
};

// Fault cfg-rank-source only: the request of each CFG group's first rank reaches the other one
// (the executor's CFG_PARALLEL broadcast), as if each CFG-rank-0 rank were the AR's source.
class ArShareInsideCfgGroupStage final : public Stage {
 public:
  std::string name() const override { return "glm_image.ar_share"; }
  StageParallelism parallelism() const override { return StageParallelism::CfgParallel; }
  void run(Request&, RankContext&) override {}
};

// Fault partial-handoff only: after the hand-off the other ranks keep only the prior tokens of the
// AR's result, as a hand-off that sends just what the next stage reads would leave them.
class ArPartialHandoffStage final : public Stage {
 public:
  std::string name() const override { return "glm_image.ar_handoff"; }
  StageParallelism parallelism() const override { return StageParallelism::Replicated; }
  void run(Request& r, RankContext& ctx) override {
    if (ctx.rank() != 0) r.erase(field::kGeneratedIds);
  }
};

class GlmImageBeforeDenoisingStage final : public Stage {
 public:
  GlmImageBeforeDenoisingStage(std::shared_ptr<GlmImageModels> m, std::shared_ptr<GlmImageRankState> s)
      : m_(std::move(m)), state_(std::move(s)) {}
  std::string name() const override { return "glm_image.before_denoising"; }
  StageParallelism parallelism() const override { return StageParallelism::Replicated; }

  void run(Request& r, RankContext& ctx) override {
    const GlmImageParams p = glm_image_params(r);
    const c10::Device device = m_->device();
    const T5Encoder& glyph = m_->glyph_encoder();
    r.set_tensor(field::kGlyphEmbeds, glyph_embeddings(glyph, p.prompt, p.glyph_max_length));
    r.set_tensor(field::kGlyphEmbedsUncond, glyph_embeddings(glyph, "", p.glyph_max_length));
    at::Tensor noise = p.noise;
    if (!noise.defined()) {
      // Drawn on the CPU from the request's seed: the same noise on every rank and every device.
      at::Generator g = Request::make_generator(c10::Device(c10::kCPU), p.seed);
      noise = at::randn({1, 16, p.height / 8, p.width / 8}, g, at::TensorOptions().dtype(at::kFloat));
    }
    r.set_tensor(field::kLatents, noise.to(device, at::kFloat));
    state_->reference_kv_cache.reset();
    if (p.reference_image.defined()) write_reference_cache(p, r.tensor(field::kReferencePriorIds).to(device), ctx);
  }

 private:
  // diffusers' step 6: the reference, cut to multiples of 16 pixels, VAE-encoded (posterior mode),
  // normalised, and run once through the DiT at timestep 0 with no text, writing every block's K/V.
  // Under SP the pass runs whole on every rank (the cache is a replicated key prefix); under TP
  // each rank caches its heads.
  void write_reference_cache(const GlmImageParams& p, const at::Tensor& reference_prior_ids, RankContext& ctx) {
    const c10::Device device = m_->device();
    const at::Tensor image = reference_pixels_for_vae(p.reference_image);  // [1, 3, h, w] in [-1, 1]
    const AutoencoderKL& vae = m_->vae();
    const at::Tensor latents = vae.normalize(vae.encode_mode(image.to(device, m_->dtype())));
    const GlmImageDiT& dit = m_->dit();
    state_->reference_kv_cache = std::make_unique<DitKvCache>(dit.config().num_layers);
    DiTInputs in;
    in.latents = latents;
    in.glyph_embeds = at::zeros({1, 0, dit.config().text_embed_dim}, latents.options());
    in.prior_token_id = reference_prior_ids;
    in.prior_token_drop = at::zeros({1}, at::TensorOptions().dtype(at::kBool).device(device));
    in.timestep = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(device));
    in.target_size = at::tensor({image.size(2), image.size(3)}, kLong).view({1, 2}).to(device, at::kFloat);
    in.crop_coords = at::zeros({1, 2}, at::TensorOptions().dtype(at::kFloat).device(device));
    in.kv_cache = state_->reference_kv_cache.get();
    in.kv_cache_mode = DitKvCacheMode::kWrite;
    DitParallelism parallel;
    parallel.tp = dit.tp_size() > 1 ? &ctx.group(GroupKind::Tp) : nullptr;
    in.parallel = &parallel;
    dit.forward(in);
  }

  // The reference as the VAE sees it: sides floored to multiples of 16 (VAE factor x DiT patch).
  // Upstream resizes with PIL's Lanczos when that changes the size; glmh uses the processor's
  // antialiased bicubic instead, exact when the sides already are multiples of 16.
  static at::Tensor reference_pixels_for_vae(const at::Tensor& rgb) {
    const int64_t h = rgb.size(0) / 16 * 16, w = rgb.size(1) / 16 * 16;
    if (h == 0 || w == 0) throw std::invalid_argument("reference image is smaller than 16 x 16 pixels");
    at::Tensor chw = rgb.permute({2, 0, 1}).contiguous();
    if (h != rgb.size(0) || w != rgb.size(1)) chw = resize_bicubic_antialias_u8(chw, h, w);
    return (chw.to(at::kFloat) / 127.5 - 1.0).unsqueeze(0);
  }

  std::shared_ptr<GlmImageModels> m_;
  std::shared_ptr<GlmImageRankState> state_;
};

// The threshold test's two sums over the ranks that share the transformer: the SP ranks hold
// different tokens (summed), the TP ranks the same ones (summed, then divided back).
void reduce_cache_sums(at::Tensor& sums, Communicator& sp, Communicator& tp) {
  if (sp.size() > 1) sp.all_reduce(sums, ReduceOp::Sum);
  if (tp.size() > 1) {
    tp.all_reduce(sums, ReduceOp::Sum);
    sums.div_(double(tp.size()));
  }
}

// The cache's decisions as rank-local request fields: cache_hits int64 [2, steps] (1 hit, 0
// computed, -1 not run on this rank) and cache_diffs float64 [2, steps] (the threshold test's
// value, NaN where none ran).
void record_cache_decisions(Request& r, const DbCache& cache, int64_t steps) {
  at::Tensor hits = at::full({2, steps}, -1, at::kLong);
  at::Tensor diffs = at::full({2, steps}, std::nan(""), at::kDouble);
  for (CfgBranch b : {CfgBranch::Cond, CfgBranch::Uncond})
    for (const CacheDecision& d : cache.decisions(b)) {
      if (d.step < 0 || d.step >= steps) continue;
      hits[int(b)][d.step] = d.hit ? 1 : 0;
      if (d.diff >= 0) diffs[int(b)][d.step] = d.diff;
    }
  r.set_tensor(field::kCacheHits, hits, FieldScope::RankLocal);
  r.set_tensor(field::kCacheDiffs, diffs, FieldScope::RankLocal);
}

class GlmImageDenoisingStage final : public Stage {
 public:
  GlmImageDenoisingStage(std::shared_ptr<GlmImageModels> m, std::shared_ptr<GlmImageRankState> s,
                         GlmImageRunOptions o)
      : m_(std::move(m)), state_(std::move(s)), o_(std::move(o)) {}
  std::string name() const override { return "glm_image.denoising"; }
  StageParallelism parallelism() const override { return StageParallelism::CfgParallel; }

  void run(Request& r, RankContext& ctx) override {
    const GlmImageParams p = glm_image_params(r);
    const c10::Device device = m_->device();
    const c10::ScalarType dtype = m_->dtype();
    const GlmImageDiT& dit = m_->dit();
    const auto& dc = dit.config();
    const FlowMatchSchedule schedule =
        glm_image_schedule(glm_image_seq_len(p.height, p.width), int(p.steps), m_->scheduler_config());
    const bool cfg = p.guidance > 1.0;
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
    const auto flag = at::TensorOptions().dtype(at::kBool).device(device);
    Communicator& tp_group = ctx.group(GroupKind::Tp);
    Communicator& sp_group = ctx.group(GroupKind::Sp);
    Communicator& cfg_group = ctx.group(GroupKind::Cfg);
    if (cfg_group.size() > 1 && !cfg)
      throw std::invalid_argument("cfg-parallel needs guidance > 1 (got " + std::to_string(p.guidance) + ")");

    // This rank's tokens: a band of token rows, its prior ids and its rotary rows.
    const SpShardPlan plan = SpShardPlan::create(p.height / 8, p.width / 8, dc.patch_size, sp_group.size(), sp_group.rank());
    const auto [cos_full, sin_full] = get_freqs_cis(plan.grid_h, plan.grid_w, dc.attention_head_dim);
    SpShards shards;
    shards.cos = cos_full;
    shards.sin = sin_full;
    if (o_.fault != GlmImageFault::UnshardedRope) {
      shards.cos = shard_rotary_for_plan(cos_full, plan);
      // sin-shard-off-by-row: the sin table taken one token row behind (the cos table is right).
      shards.sin = shard_rotary_for_plan(
          o_.fault == GlmImageFault::SinShardOffByRow ? at::roll(sin_full, {plan.grid_w}, {0}) : sin_full, plan);
    }
    shards.latents_band = shard_latents_for_sp(r.tensor(field::kLatents).to(device, at::kFloat), plan);
    shards.prior_ids = shard_tokens_for_sp(r.tensor(field::kPriorTokenId).to(device), plan);
    if (o_.on_sp_shards) o_.on_sp_shards(ctx, r, plan, shards);

    SequenceParallelAttention sp_attention;
    sp_attention.ulysses = &ctx.group(GroupKind::Ulysses);
    sp_attention.ring = &ctx.group(GroupKind::Ring);
    sp_attention.image_tokens = plan.tokens();
    sp_attention.tokens_per_rank = plan.tokens_per_rank();
    sp_attention.fault_ring_prefix_no_rotate = o_.fault == GlmImageFault::RingPrefixNoRotate;
    sp_attention.fault_fp16_wire = o_.fault == GlmImageFault::UlyssesFp16Wire;
    sp_attention.fault_padding_as_keys = o_.fault == GlmImageFault::SpPaddingAsKeys;
    sp_attention.fault_fp16_staging = o_.fault == GlmImageFault::SpQkvFp16Staging;
    DitParallelism parallel;
    parallel.tp = tp_group.size() > 1 ? &tp_group : nullptr;
    parallel.fault_fp16_all_reduce = o_.fault == GlmImageFault::TpAllReduceFp16;
    parallel.sp = sp_group.size() > 1 ? &sp_attention : nullptr;

    DiTInputs cond;
    cond.parallel = &parallel;
    cond.glyph_embeds = r.tensor(field::kGlyphEmbeds).to(device, dtype);
    cond.prior_token_id = shards.prior_ids;
    cond.prior_token_drop = at::zeros({1}, flag);
    cond.target_size = at::tensor({double(p.height), double(p.width)}, at::kFloat).view({1, 2}).to(device);
    cond.crop_coords = at::zeros({1, 2}, f32);
    // The rotary rows once per request, on the device (upstream rebuilds them on the CPU per call).
    cond.rotary_cos = shards.cos.to(device);
    cond.rotary_sin = shards.sin.to(device);
    if (state_->reference_kv_cache) {
      cond.kv_cache = state_->reference_kv_cache.get();
      cond.kv_cache_mode = DitKvCacheMode::kRead;
    }
    DiTInputs uncond = cond;
    uncond.glyph_embeds = r.tensor(field::kGlyphEmbedsUncond).to(device, dtype);
    uncond.prior_token_drop = at::ones({1}, flag);
    uncond.kv_cache_mode = state_->reference_kv_cache ? DitKvCacheMode::kSkip : DitKvCacheMode::kOff;

    // Block caching: one context per request, the decisions shared by the ranks that share the
    // transformer (docs/caching.md#parallel-runs).
    std::unique_ptr<DbCache> cache;
    if (o_.cache.enabled) {
      DbCache::Reduce reduce;
      if (o_.fault != GlmImageFault::CacheLocalDecision && (sp_group.size() > 1 || tp_group.size() > 1))
        reduce = [&sp_group, &tp_group](at::Tensor& sums) { reduce_cache_sums(sums, sp_group, tp_group); };
      cache = std::make_unique<DbCache>(o_.cache.for_steps(int(p.steps)), std::move(reduce));
      const int64_t real_rows = std::max<int64_t>(0, std::min(plan.band_rows, plan.grid_h - plan.first_row()));
      cache->set_valid_image_tokens(real_rows * plan.grid_w);
      cache->count_condition_writes(state_->reference_kv_cache ? 1 : 0);
      if (o_.on_cache_decision)
        cache->set_decision_hook(
            [this, &ctx](CfgBranch branch, const CacheDecision& d) { o_.on_cache_decision(ctx, branch, d); });
      cond.block_cache = uncond.block_cache = cache.get();
    }

    // CFG-parallel: CFG rank 0 evaluates the conditional branch, rank 1 the unconditional one, and
    // both combine the pair every step.
    DiTInputs* const mine = cfg_group.rank() == 0 ? &cond : &uncond;
    // One graph per CFG branch: the branches differ in their conditioning tensors.
    const bool graphed = o_.dit_cuda_graph && DitForwardGraph::supports(cond, device);
    DitForwardGraph cond_graph, uncond_graph;
    auto forward = [&](const DiTInputs& in) {
      if (!graphed) return dit.forward(in);
      return (&in == &cond ? cond_graph : uncond_graph).forward(dit, in);
    };
    at::Tensor x = shards.latents_band;
    at::Tensor branches = cfg_group.size() > 1 ? at::empty({2, x.size(0), x.size(1), x.size(2), x.size(3)}, x.options())
                                               : at::Tensor();
    if (o_.denoise_steps) o_.denoise_steps->mark();
    for (int64_t k = 0; k < p.steps; ++k) {
      const at::Tensor timestep = at::full({1}, schedule.dit_timesteps[k], f32);
      cond.latents = uncond.latents = x.to(dtype);
      cond.timestep = uncond.timestep = timestep;
      at::Tensor v;
      if (cfg_group.size() > 1) {
        // This rank makes one of the step's two calls; upstream's single context counts both,
        // conditional first.
        const CfgBranch branch = cfg_group.rank() == 0 ? CfgBranch::Cond : CfgBranch::Uncond;
        if (cache && branch == CfgBranch::Uncond) cache->skip_call(CfgBranch::Cond);
        if (cache) cache->begin_call(branch);
        cfg_group.all_gather(branches, forward(*mine).to(at::kFloat).contiguous());
        if (cache && branch == CfgBranch::Cond) cache->skip_call(CfgBranch::Uncond);
        v = branches[1] + p.guidance * (branches[0] - branches[1]);
      } else {
        if (cache) cache->begin_next_call();
        v = forward(cond).to(at::kFloat);
        if (cfg) {
          if (cache) cache->begin_next_call();
          const at::Tensor v_uncond = forward(uncond).to(at::kFloat);
          v = v_uncond + p.guidance * (v - v_uncond);
        }
      }
      x = x + (schedule.sigmas[k + 1] - schedule.sigmas[k]) * v;
      if (o_.denoise_steps) o_.denoise_steps->mark();
      if (o_.on_denoise_step) o_.on_denoise_step(k + 1, p.steps);
    }
    r.set_tensor(field::kLatents, gather_latents_from_sp(x, plan, sp_group));
    if (cache) record_cache_decisions(r, *cache, p.steps);
  }

 private:
  std::shared_ptr<GlmImageModels> m_;
  std::shared_ptr<GlmImageRankState> state_;
  GlmImageRunOptions o_;
};

class GlmImageDecodingStage final : public Stage {
 public:
  GlmImageDecodingStage(std::shared_ptr<GlmImageModels> m, GlmImageFault fault) : m_(std::move(m)), fault_(fault) {}
  std::string name() const override { return "glm_image.decoding"; }
  StageParallelism parallelism() const override { return StageParallelism::MainRankOnly; }

  void run(Request& r, RankContext& ctx) override {
    const AutoencoderKL& vae = m_->vae();
    const at::Tensor latents = r.tensor(field::kLatents).to(m_->device(), m_->dtype());
    // vae-skip-denormalize: a parallel path that hands the VAE the normalised latents.
    const bool skip = fault_ == GlmImageFault::VaeSkipDenormalize && ctx.world_size() > 1;
    const at::Tensor z = skip ? latents : vae.denormalize(latents);
    const at::Tensor image = vae.decode(z).to(at::kFloat);  // [1, 3, H, W] in about [-1, 1]
    // diffusers' postprocess: [0, 1], then round(x * 255) to 8 bits.
    const at::Tensor rgb = ((image / 2 + 0.5).clamp(0, 1) * 255).round().to(at::kByte);
    r.set_tensor(field::kImage, rgb[0].permute({1, 2, 0}).contiguous().cpu());
  }

 private:
  std::shared_ptr<GlmImageModels> m_;
  GlmImageFault fault_;
};

}  // namespace

GlmImageStageSet make_glm_image_stages(std::shared_ptr<GlmImageModels> models, GlmImageRunOptions options) {
  GlmImageStageSet set;
  set.models = models;
  set.state = std::make_shared<GlmImageRankState>();
  set.stages.push_back(std::make_unique<GlmImageArStage>(models, options));
  if (options.fault == GlmImageFault::CfgRankSource) set.stages.push_back(std::make_unique<ArShareInsideCfgGroupStage>());
  if (options.fault == GlmImageFault::PartialHandoff) set.stages.push_back(std::make_unique<ArPartialHandoffStage>());
  set.stages.push_back(std::make_unique<GlmImageBeforeDenoisingStage>(models, set.state));
  set.stages.push_back(std::make_unique<GlmImageDenoisingStage>(models, set.state, options));
  set.stages.push_back(std::make_unique<GlmImageDecodingStage>(models, options.fault));
  return set;
}

}  // namespace glmh
