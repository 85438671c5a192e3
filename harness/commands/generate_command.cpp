#include "harness/commands/generate_command.h"

#include <ATen/ATen.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "harness/caching/cache_schedule.h"
#include "harness/cli/exit_codes.h"
#include "harness/cli/glm_image_cli.h"
#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/checkpoint/safetensors.h"
#include "harness/launch/multi_rank_command.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

std::vector<OptionSpec> generate_option_specs() {
  auto specs = runtime_option_specs();
  const auto model = glm_image_option_specs();
  specs.insert(specs.end(), model.begin(), model.end());
  specs.push_back({"cache", "PROFILE",
                   "DiT block caching: none, cache-dit@VERSION or [cache-dit@VERSION:]CONFIG (docs/caching.md)", "none"});
  specs.push_back({"out", "DIR", "where image.png, latents.safetensors and prior_tokens.safetensors go", ""});
  specs.push_back({"help", "", "show this help", ""});
  return specs;
}

std::string seconds_text(double s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(3) << s << " s";
  return o.str();
}

int generate_rank_main(RankContext& ctx, const CliArgs& args) {
  // Bad input (checkpoint, reference image, parameters) is a usage error, reported before any
  // stage runs; what fails later is the run's.
  std::shared_ptr<GlmImageModels> models;
  Request request;
  GlmImageRunOptions options;
  try {
    options.cache = parse_cache_profile(args.str("cache"));
    models = open_models(args, ctx.device(), "generate");
    const GlmImageParams params = params_from(args, *models);
    options.cache.for_steps(int(params.steps));  // a mask preset for this step count: refused before anything runs
    request = make_glm_image_request(params);

    ctx.log().info("generate: ", models->source().description(), ", ", params.height, "x", params.width, ", ",
                   params.steps, " steps, guidance ", params.guidance, params.reference_image.defined() ? ", image to image" : "");
    GlmImageModels::Which which;
    which.vision = params.reference_image.defined();
    models->preload(which);  // loading stays out of the stage times
  } catch (const CheckpointError& e) {
    throw UsageError(e.what());
  } catch (const CacheConfigError& e) {
    throw UsageError(std::string("glmh generate: --cache: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("glmh generate: ") + e.what());
  }
  GlmImageStageSet pipeline = make_glm_image_stages(models, options);
  ParallelExecutor executor(ctx);
  executor.execute(pipeline.stages, request);
  for (const auto& record : executor.records())
    ctx.log().info("stage ", record.stage, ": ", seconds_text(record.total_seconds));

  const std::string out = args.str("out");
  write_run_outputs(out, request, "glmh generate");
  ctx.log().info("wrote ", out, "/image.png, latents.safetensors, prior_tokens.safetensors");
  if (options.cache.enabled) {
    write_cache_schedule(out + "/cache_hits.safetensors",
                         {{request.tensor(field::kCacheHits), request.tensor(field::kCacheDiffs)},
                          options.cache.describe(),
                          models->dit().config().num_layers},
                         "glmh generate");
    const at::Tensor hits = request.tensor(field::kCacheHits);
    ctx.log().info("cache ", options.cache.describe(), ": ", (hits > 0).sum().item<int64_t>(), " of ",
                   (hits >= 0).sum().item<int64_t>(), " DiT calls served from the cache; decisions in ", out,
                   "/cache_hits.safetensors");
  }
  return kExitOk;
}

}  // namespace

int generate_command(const std::vector<std::string>& raw_args) {
  const auto specs = generate_option_specs();
  CliArgs args;
  try {
    args = CliArgs::parse("generate", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "generate",
          "Runs GLM-Image once (AR prior tokens, glyph embeddings, denoising with CFG, VAE decode)\n"
          "and writes DIR/image.png, DIR/latents.safetensors (latents, fp32) and\n"
          "DIR/prior_tokens.safetensors (prior_token_id). One rank.",
          specs);
      return kExitOk;
    }
    if (!args.given("out")) throw UsageError("glmh generate: --out is required");
    if (args.integer("world-size", 1) != 1 || args.integer("tp", 1) != 1 || args.integer("sp", 1) != 1 ||
        args.integer("cfg", 1) != 1)
      throw UsageError("glmh generate runs on one rank; parallel layouts are glmh run's");
    dtype_from(args, "generate");
    if (args.given("image") && !posix_fs::exists(args.str("image")))
      throw UsageError("glmh generate: --image '" + args.str("image") + "' does not exist");
  } catch (const UsageError& e) {
    RankLog().error(e.what());
    return kExitUsage;
  }
  return run_multi_rank_command("generate", args, raw_args, std::nullopt,
                                [&](RankContext& ctx, const RankEnvironment&) { return generate_rank_main(ctx, args); });
}

}  // namespace glmh
