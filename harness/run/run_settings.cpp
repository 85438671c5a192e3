#include "harness/run/run_settings.h"

#include "harness/cli/glm_image_cli.h"
#include "harness/launch/multi_rank_command.h"
#include "pipeline/glm_image/glm_image_stages.h"

namespace glmh {

std::vector<OptionSpec> run_option_specs() {
  auto specs = runtime_option_specs();
  const auto model = glm_image_option_specs();
  specs.insert(specs.end(), model.begin(), model.end());
  const std::vector<OptionSpec> own = {
      {"ar-strategy", "A", "how the AR stage runs: " + all_ar_strategy_names(), "main-rank"},
      {"fault", "F", "reproduce a known bug: " + all_fault_names(), "none"},
      {"cache", "PROFILE", "DiT block caching: none, cache-dit@VERSION (that release's default for GLM-Image), or "
                           "[cache-dit@VERSION:]CONFIG as cache-dit prints it, e.g. DBCache_F2B1_W4I1M0MC4_R0.4_T1O2",
       "none"},
      {"inject", "KIND:RANK:STAGE[@N]",
       "a failure: throw, exit, kill, stall, freeze or perturb on RANK as STAGE begins, or after N AR tokens / "
       "denoise steps of it", ""},
      {"ar-eager", "", "AR decode step by step from the host instead of replaying a CUDA graph (for comparison)", ""},
      {"dit-eager", "", "every DiT forward enqueued from the host instead of replaying a CUDA graph (for comparison)",
       ""},
      {"reference", "DIR", "the single-rank run to compare with (a glmh run --world-size 1 --out DIR); "
                           "default: the matching golden of --golden, else the launcher runs it first into "
                           "OUT/reference", ""},
      {"golden", "DIR", "golden store (glmh golden) whose single-rank run of this request is the reference "
                        "when --reference is not given; none: always compute it", "golden/scenarios"},
      {"latent-tolerance", "X", "fp32 parity: max |latents - single-rank| / max |single-rank| allowed (default 1e-5)", ""},
      {"min-cosine", "X", "bf16 parity: least cosine of the latents with the single-rank latents (default 0.999)", ""},
      {"min-psnr", "DB", "least PSNR of the image against the single-rank image (default: fp32 60, bf16 30)", ""},
      {"min-ssim", "X", "least SSIM of the image against the single-rank image (default: fp32 0.999, bf16 0.98)", ""},
      {"warmup", "N", "benchmark: untimed iterations after the checked run", "0"},
      {"repeat", "N", "benchmark: at least N timed iterations (no checks inside), into bench.json", "0"},
      {"min-seconds", "S", "benchmark: and at least this long", "0"},
      {"profile", "", "benchmark: one more iteration with denoise steps under libtorch's profiler: a Chrome trace "
                      "per rank (trace-rank<R>.json) and the step breakdown in bench.json", ""},
      {"profile-steps", "N", "benchmark: how many denoise steps --profile records", "2"},
      {"out", "DIR", "the run directory: summary.md, report.html, results.csv, run.json, image.png, latents, "
                     "prior tokens (default: REPORTS/<run-id>)", ""},
      {"reports", "DIR", "where a run without --out makes its directory", "reports"},
      {"recorded-out", "DIR", "the name --out gets when its caller (glmh's launcher, validate, golden) puts it in place: "
                              "paths are recorded as DIR and the caller, not this run, stages the directory", ""},
      {"help", "", "show this help", ""},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

RunSettings run_settings_from(const CliArgs& args) {
  RunSettings s;
  const auto strategy = parse_ar_strategy(args.str("ar-strategy"));
  if (!strategy)
    throw UsageError("glmh run: --ar-strategy must be one of " + all_ar_strategy_names() + ", got '" +
                     args.str("ar-strategy") + "'");
  const auto fault = parse_fault(args.str("fault"));
  if (!fault)
    throw UsageError("glmh run: --fault must be one of " + all_fault_names() + ", got '" + args.str("fault") + "'");
  s.strategy = *strategy;
  s.fault = *fault;
  s.inject = FaultSpec::parse(args.str("inject"));
  try {
    s.cache = parse_cache_profile(args.str("cache"));
    s.cache.for_steps(int(args.integer("steps", 1)));  // a mask preset for this step count: refused now, not mid-run
  } catch (const CacheConfigError& e) {
    throw UsageError(std::string("glmh run: --cache: ") + e.what());
  }
  s.ar_cuda_graph = !args.flag("ar-eager");
  s.dit_cuda_graph = !args.flag("dit-eager");
  s.out = args.str("out");
  s.recorded_out = args.str("recorded-out");
  if (args.given("latent-tolerance")) s.parity.latent_tolerance = args.real("latent-tolerance");
  if (args.given("min-cosine")) s.parity.min_cosine = args.real("min-cosine");
  if (args.given("min-psnr")) s.parity.min_psnr_db = args.real("min-psnr");
  if (args.given("min-ssim")) s.parity.min_ssim = args.real("min-ssim");
  s.bench.warmup = int(args.integer("warmup", 0));
  s.bench.repeat = int(args.integer("repeat", 0));
  s.bench.min_seconds = args.real("min-seconds");
  if (args.flag("profile")) {
    s.bench.profile_steps = int(args.integer("profile-steps", 1));
    if (args.integer("steps", 1) < 2) throw UsageError("glmh run: --profile needs at least 2 --steps");
  }
  return s;
}

void validate_injection(const RunSettings& settings, const CliArgs& args, int world_size) {
  if (settings.inject.none()) return;
  GlmImageRunOptions options;
  options.ar_strategy = settings.strategy;
  options.fault = settings.fault;
  // The stages' names and parallelism do not depend on the models.
  const GlmImageStageSet stages = make_glm_image_stages(nullptr, options);
  const int64_t height = args.integer("height", 32), width = args.integer("width", 32);
  // The AR generates the target grid's tokens (one per 32 x 32 pixels) and more (a preview grid,
  // the end marker): the target grid alone is a safe lower bound.
  settings.inject.validate(stages.stages, world_size,
                           {{"glm_image.ar", (height / 32) * (width / 32), "AR tokens"},
                            {"glm_image.denoising", args.integer("steps", 1), "denoise steps"}});
}

}  // namespace glmh
