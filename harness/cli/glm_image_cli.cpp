#include "harness/cli/glm_image_cli.h"

#include <ATen/ATen.h>

#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/executor/request.h"
#include "pipeline/runtime/posix_fs.h"
#include "harness/io/png_image.h"

namespace glmh {

std::vector<OptionSpec> glm_image_option_specs() {
  return {
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
  };
}

c10::ScalarType dtype_from(const CliArgs& args, const std::string& command) {
  std::string name = args.str("dtype");
  if (name.empty()) name = args.str("device") == "cuda" ? "bf16" : "fp32";
  if (name == "fp32") return at::kFloat;
  if (name == "bf16") return at::kBFloat16;
  throw UsageError("glmh " + command + ": --dtype must be fp32 or bf16, got '" + name + "'");
}

std::shared_ptr<GlmImageModels> open_models(const CliArgs& args, const c10::Device& device, const std::string& command) {
  return std::make_shared<GlmImageModels>(
      ModelSource::open(args.str("model"), static_cast<uint64_t>(args.integer("model-seed", 0))), device,
      dtype_from(args, command));
}

GlmImageParams params_from(const CliArgs& args, GlmImageModels& models) {
  GlmImageParams params;
  params.prompt = args.str("prompt");
  params.height = args.integer("height", 32);
  params.width = args.integer("width", 32);
  params.steps = args.integer("steps", 1);
  params.guidance = args.real("guidance");
  params.seed = static_cast<uint64_t>(args.integer("seed", 0));
  params.glyph_max_length = args.integer("glyph-max-length", 1);
  params.sampling = models.default_sampling();
  if (args.flag("greedy")) params.sampling.greedy = true;
  if (args.given("temperature")) params.sampling.temperature = args.real("temperature");
  if (args.given("top-p")) params.sampling.top_p = args.real("top-p");
  if (args.given("top-k")) params.sampling.top_k = args.integer("top-k", 0);
  if (args.given("image")) params.reference_image = read_png(args.str("image"));
  return params;
}

void write_run_outputs(const std::string& dir, const Request& request, const std::string& producer) {
  posix_fs::make_directories(dir);
  if (request.has(field::kImage)) write_png(dir + "/image.png", request.tensor(field::kImage));
  write_safetensors(dir + "/latents.safetensors", {{"latents", request.tensor(field::kLatents).to(at::kFloat).cpu()}},
                    {{"producer", producer}});
  write_safetensors(dir + "/prior_tokens.safetensors",
                    {{"prior_token_id", request.tensor(field::kPriorTokenId).cpu()},
                     {"ar_generated_ids", request.tensor(field::kGeneratedIds).cpu()}},
                    {{"producer", producer}});
}

}  // namespace glmh
