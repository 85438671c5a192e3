// What one rank of glmh run holds before the stages start: the models it needs (loaded, so that
// loading stays out of the stage times), the request, and the single-rank reference to compare
// with. Every refusal is a UsageError, raised before any stage runs.
#pragma once

#include <memory>

#include "harness/checks/cache_consistency_check.h"
#include "harness/checks/output_parity_check.h"
#include "harness/cli/cli_args.h"
#include "harness/run/run_settings.h"
#include "pipeline/executor/request.h"
#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/glm_image/glm_image_request.h"

namespace glmh {

class RankContext;

struct RunSetup {
  std::shared_ptr<GlmImageModels> models;
  GlmImageParams params;
  Request request;
  ParityReference reference;  // undefined latents: no reference (the single-rank run itself)
  CacheDecisions reference_cache;  // the reference's cache decisions (undefined: none)
};

RunSetup prepare_run(RankContext& ctx, const CliArgs& args, const RunSettings& settings);

// The final latents and image of a glmh run directory; throws CheckpointError naming the file.
ParityReference read_reference(const std::string& dir);

}  // namespace glmh
