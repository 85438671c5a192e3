#include "harness/run/run_setup.h"

#include <ATen/ATen.h>

#include "harness/caching/cache_schedule.h"
#include "harness/cli/glm_image_cli.h"
#include "harness/io/png_image.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

ParityReference read_reference(const std::string& dir) {
  ParityReference ref;
  const auto latents = SafetensorsFile::open(dir + "/latents.safetensors");
  if (!latents->contains("latents"))
    throw CheckpointError(latents->path() + ": no tensor 'latents' (expected the final latents of a single-rank run)");
  ref.latents = latents->tensor("latents").to(at::kFloat).clone();
  if (posix_fs::exists(dir + "/image.png")) ref.image = read_png(dir + "/image.png");
  if (posix_fs::exists(dir + "/prior_tokens.safetensors")) {
    const auto tokens = SafetensorsFile::open(dir + "/prior_tokens.safetensors");
    if (!tokens->contains("prior_token_id")) throw CheckpointError(tokens->path() + ": no tensor 'prior_token_id'");
    ref.prior_tokens = tokens->tensor("prior_token_id").to(at::kLong).clone();
    if (tokens->contains("ar_generated_ids")) ref.generated_ids = tokens->tensor("ar_generated_ids").to(at::kLong).clone();
  }
  return ref;
}

RunSetup prepare_run(RankContext& ctx, const CliArgs& args, const RunSettings& settings) {
  const ParallelLayout& layout = ctx.layout();
  RunSetup s;
  try {
    s.models = open_models(args, ctx.device(), "run");
    s.params = params_from(args, *s.models);
    s.request = make_glm_image_request(s.params);
    const std::string why = why_fault_cannot_fire(
        settings.fault, {layout, s.params.sampling.greedy, s.params.guidance, settings.cache.enabled, settings.strategy,
                         s.params.height / 16});
    if (!why.empty()) throw UsageError("glmh run: " + why);
    if (layout.cfg() > 1 && s.params.guidance <= 1.0)
      throw UsageError("glmh run: --cfg 2 needs --guidance > 1 (it runs the two CFG branches on two ranks)");
    if (args.given("reference")) {
      s.reference = read_reference(args.str("reference"));
      if (settings.cache.enabled && posix_fs::exists(args.str("reference") + "/cache_hits.safetensors"))
        s.reference_cache = read_cache_schedule(args.str("reference")).decisions;
    }
    const RankCoords coords = ctx.coords();
    s.models->set_dit_tensor_parallel(coords.tp_rank, layout.tp());
    const int ar_tp = ar_tensor_parallel_size(settings.strategy, layout);
    if (ar_tp > 1) {
      const GlmImageTextConfig& ar = s.models->ar_config();
      if (ar.num_attention_heads % ar_tp != 0 || ar.num_key_value_heads % ar_tp != 0)
        throw UsageError("glmh run: --ar-strategy " + std::string(ar_strategy_name(settings.strategy)) +
                         " splits the AR model over " + std::to_string(ar_tp) + " ranks, but its " +
                         std::to_string(ar.num_attention_heads) + " heads and " +
                         std::to_string(ar.num_key_value_heads) + " KV heads do not divide by " +
                         std::to_string(ar_tp));
      s.models->set_ar_tensor_parallel(&ctx.group(ar_tensor_parallel_group(settings.strategy)));
    }
    GlmImageModels::Which which;
    // Only the ranks that run the AR hold it.
    which.ar = ctx.rank() == 0 || settings.strategy != ArStrategy::MainRank ||
               settings.fault == GlmImageFault::ArPerRankSeed ||
               (settings.fault == GlmImageFault::CfgRankSource && coords.cfg_rank == 0);
    which.vision = which.ar && s.params.reference_image.defined();
    which.vae = true;
    s.models->preload(which);
  } catch (const UsageError&) {
    throw;
  } catch (const CheckpointError& e) {
    throw UsageError(e.what());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("glmh run: ") + e.what());
  }
  return s;
}

}  // namespace glmh
