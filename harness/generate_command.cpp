#include "generate_command.h"

#include <ATen/ATen.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "exit_codes.h"
#include "multi_rank_command.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_context.h"
#include "png_image.h"

namespace glmh {

namespace {

std::vector<OptionSpec> generate_option_specs() {
  auto specs = runtime_option_specs();
  const std::vector<OptionSpec> own = {
      {"model", "M", "a preset (tiny, small, full) or a GLM-Image checkpoint directory", "tiny"},
      {"model-seed", "S", "a preset's weight seed", "0"},
      {"prompt", "TEXT", "the prompt; quoted text in it is rendered through the glyph encoder", ""},
      {"height", "H", "image height in pixels, a multiple of 32", "1024"},
      {"width", "W", "image width in pixels, a multiple of 32", "1024"},
      {"image", "REF.png", "a reference image: image to image", ""},
      {"steps", "N", "denoising steps", "30"},
      {"guidance", "G", "CFG guidance scale (CFG runs when > 1)", "1.5"},
      {"seed", "S", "seed of the AR sampling and of the initial noise", "42"},
      {"greedy", "", "AR greedy decoding instead of sampling", ""},
      {"temperature", "T", "AR sampling temperature (default: the checkpoint's)", ""},
      {"top-p", "P", "AR nucleus sampling (default: the checkpoint's)", ""},
      {"top-k", "K", "AR top-k, 0 for off (default: the checkpoint's)", ""},
      {"glyph-max-length", "L", "ByT5 tokens per glyph string", "2048"},
      {"dtype", "fp32|bf16", "compute dtype (default: fp32 on cpu, bf16 on cuda)", ""},
      {"out", "DIR", "where image.png, latents.safetensors and prior_tokens.safetensors go", ""},
      {"help", "", "show this help", ""},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

c10::ScalarType dtype_from(const CliArgs& args) {
  std::string name = args.str("dtype");
  if (name.empty()) name = args.str("device") == "cuda" ? "bf16" : "fp32";
  if (name == "fp32") return at::kFloat;
  if (name == "bf16") return at::kBFloat16;
  throw UsageError("glmh generate: --dtype must be fp32 or bf16, got '" + name + "'");
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
  try {
    models = std::make_shared<GlmImageModels>(
        ModelSource::open(args.str("model"), static_cast<uint64_t>(args.integer("model-seed", 0))), ctx.device(),
        dtype_from(args));
    GlmImageParams params;
    params.prompt = args.str("prompt");
    params.height = args.integer("height", 32);
    params.width = args.integer("width", 32);
    params.steps = args.integer("steps", 1);
    params.guidance = args.real("guidance");
    params.seed = static_cast<uint64_t>(args.integer("seed", 0));
    params.glyph_max_length = args.integer("glyph-max-length", 1);
    params.sampling = models->default_sampling();
    if (args.flag("greedy")) params.sampling.greedy = true;
    if (args.given("temperature")) params.sampling.temperature = args.real("temperature");
    if (args.given("top-p")) params.sampling.top_p = args.real("top-p");
    if (args.given("top-k")) params.sampling.top_k = args.integer("top-k", 0);
    if (args.given("image")) params.reference_image = read_png(args.str("image"));
    request = make_glm_image_request(params);

    ctx.log().info("generate: ", models->source().description(), ", ", params.height, "x", params.width, ", ",
                   params.steps, " steps, guidance ", params.guidance, params.reference_image.defined() ? ", image to image" : "");
    GlmImageModels::Which which;
    which.vision = params.reference_image.defined();
    models->preload(which);  // loading stays out of the stage times
  } catch (const CheckpointError& e) {
    throw UsageError(e.what());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("glmh generate: ") + e.what());
  }
  GlmImageStageSet pipeline = make_glm_image_stages(models);
  ParallelExecutor executor(ctx);
  executor.execute(pipeline.stages, request);
  for (const auto& record : executor.records())
    ctx.log().info("stage ", record.stage, ": ", seconds_text(record.total_seconds));

  const std::string out = args.str("out");
  posix_fs::make_directories(out);
  write_png(out + "/image.png", request.tensor(field::kImage));
  write_safetensors(out + "/latents.safetensors", {{"latents", request.tensor(field::kLatents).to(at::kFloat).cpu()}},
                    {{"producer", "glmh generate"}});
  write_safetensors(out + "/prior_tokens.safetensors",
                    {{"prior_token_id", request.tensor(field::kPriorTokenId).cpu()},
                     {"ar_generated_ids", request.tensor(field::kGeneratedIds).cpu()}},
                    {{"producer", "glmh generate"}});
  ctx.log().info("wrote ", out, "/image.png, latents.safetensors, prior_tokens.safetensors");
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
    dtype_from(args);
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
