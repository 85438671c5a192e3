// What glmh generate and glmh run share: the model and request options, reading them into a
// GlmImageParams, and writing a run's outputs (image.png, latents.safetensors,
// prior_tokens.safetensors), each through a temporary name.
#pragma once

#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <vector>

#include "harness/cli/cli_args.h"
#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/glm_image/glm_image_request.h"

namespace glmh {

class Request;

// --model --model-seed --prompt --height --width --image --steps --guidance --seed --greedy
// --temperature --top-p --top-k --glyph-max-length --dtype
std::vector<OptionSpec> glm_image_option_specs();

// --dtype, defaulting to fp32 on the CPU and bf16 on CUDA. UsageError for another name.
c10::ScalarType dtype_from(const CliArgs& args, const std::string& command);

// The models of --model on `device`; the request parameters from the options (sampling defaults
// from the checkpoint's generation config). CheckpointError / std::invalid_argument on bad input.
std::shared_ptr<GlmImageModels> open_models(const CliArgs& args, const c10::Device& device, const std::string& command);
GlmImageParams params_from(const CliArgs& args, GlmImageModels& models);

// Writes DIR/image.png (when the request has an image), DIR/latents.safetensors (latents, fp32)
// and DIR/prior_tokens.safetensors (prior_token_id, ar_generated_ids).
void write_run_outputs(const std::string& dir, const Request& request, const std::string& producer);

}  // namespace glmh
