#include "harness/commands/run_command.h"

#include <algorithm>
#include <iostream>
#include <optional>

#include "harness/cli/exit_codes.h"
#include "harness/cli/glm_image_cli.h"
#include "harness/io/staged_directory.h"
#include "harness/launch/local_launcher.h"
#include "harness/launch/multi_rank_command.h"
#include "harness/run/run_rank.h"
#include "harness/run/run_reference.h"
#include "harness/run/run_settings.h"
#include "pipeline/model/model_source.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_context.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

namespace {

std::optional<int> dit_heads(const CliArgs& args) {
  try {
    const ModelSource source = ModelSource::open(args.str("model"), static_cast<uint64_t>(args.integer("model-seed", 0)));
    return source.component("transformer").config().at("num_attention_heads").get<int>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// raw_args without the options named in `drop` (and their values).
std::vector<std::string> without_options(const std::vector<std::string>& raw, const std::vector<std::string>& drop,
                                         const std::vector<OptionSpec>& specs) {
  auto takes_value = [&](const std::string& name) {
    for (const auto& s : specs)
      if (s.name == name) return !s.value_name.empty();
    return false;
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& a = raw[i];
    std::string name = a.rfind("--", 0) == 0 ? a.substr(2) : "";
    const bool inline_value = name.find('=') != std::string::npos;
    if (inline_value) name = name.substr(0, name.find('='));
    if (std::find(drop.begin(), drop.end(), name) == drop.end()) {
      out.push_back(a);
      continue;
    }
    if (!inline_value && takes_value(name)) ++i;
  }
  return out;
}

// Where this process's run writes when --out is not given: a fresh REPORTS/<run-id> chosen by the
// launcher (and passed to its ranks), or, for a rank started by torchrun or srun, the job's id.
std::string default_out(const CliArgs& args, const std::optional<RankEnvironment>& env) {
  const std::string id = env ? (env->run_id.empty() ? "run" : env->run_id) : make_run_id();
  return args.str("reports") + "/" + id;
}

constexpr const char* kRunHelp =
    "Runs GLM-Image under a parallel layout (world = cfg x tp x sp, sp = ulysses x ring) and\n"
    "checks it: request and token equality across ranks after the AR stage, shard-correct\n"
    "rotary rows covering the same tokens as the latent band and prior ids, and parity with\n"
    "the single-rank run (fp32: max error <= 1e-4 x max |reference|; bf16: latent cosine\n"
    ">= 0.999, image PSNR >= 30 dB and SSIM >= 0.98). Writes the run directory (--out, default\n"
    "reports/<run-id>): summary.md, report.html, results.csv, junit.xml, run.json, image.png,\n"
    "latents.safetensors and prior_tokens.safetensors; without --reference, a multi-rank run\n"
    "first makes its single-rank reference in OUT/reference.";

}  // namespace

int run_command(const std::vector<std::string>& raw_args) {
  const auto specs = run_option_specs();
  CliArgs args;
  RunSettings settings;
  std::optional<RankEnvironment> env;
  std::vector<std::string> main_args = raw_args;
  try {
    args = CliArgs::parse("run", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text("run", kRunHelp, specs);
      return kExitOk;
    }
    try {
      env = RankEnvironment::from_environment();
    } catch (const std::invalid_argument&) {
      // A malformed rank environment: run_multi_rank_command reports it.
    }
    settings = run_settings_from(args);
    if (settings.out.empty()) {
      settings.out = default_out(args, env);
      main_args.insert(main_args.end(), {"--out", settings.out});
    }
    dtype_from(args, "run");
    if (args.given("image") && !posix_fs::exists(args.str("image")))
      throw UsageError("glmh run: --image '" + args.str("image") + "' does not exist");
    if (args.given("reference") && !posix_fs::exists(args.str("reference") + "/latents.safetensors"))
      throw UsageError("glmh run: --reference '" + args.str("reference") + "' holds no latents.safetensors");
  } catch (const UsageError& e) {
    RankLog().error(e.what());
    return kExitUsage;
  }
  const std::optional<int> heads = dit_heads(args);
  // A fault or failure that could never fire is refused before anything starts (the ranks check
  // the --fault again with the checkpoint's sampling defaults).
  try {
    ParallelDegrees degrees = degrees_from(args);
    if (env && !args.given("world-size")) degrees.world_size = env->world_size;
    const ParallelLayout layout = ParallelLayout::create(degrees, heads);
    const std::string why =
        why_fault_cannot_fire(settings.fault, {layout, args.flag("greedy"), args.real("guidance"), settings.cache.enabled,
                                               settings.strategy, args.integer("height", 32) / 16});
    if (!why.empty()) throw UsageError("glmh run: " + why);
    validate_injection(settings, args, layout.world_size());
  } catch (const UsageError& e) {
    RankLog().error(e.what());
    return kExitUsage;
  } catch (const LayoutError& e) {
    // Refused here, before a single-rank reference run could start (same words as
    // run_multi_rank_command's refusal).
    RankLog().error("glmh run: ", e.what());
    return kExitUsage;
  }
  // The local launcher stages the run directory: the reference run and the ranks write into the
  // staging, which is put in place when the ranks are done (docs/reliability.md#crash-safe-outputs).
  // Under torchrun there is no launcher: rank 0 stages what it writes. A caller that stages a
  // tree of runs (validate, golden) passes --recorded-out and puts the tree in place itself.
  std::optional<StagedDirectory> staged;
  if (!env && settings.recorded_out.empty()) {
    staged.emplace(settings.out);
    main_args = without_options(main_args, {"out"}, specs);
    main_args.insert(main_args.end(), {"--out", staged->path(), "--recorded-out", settings.out});
    args = CliArgs::parse("run", specs, main_args);
    settings = run_settings_from(args);
  }
  const std::string final_out = settings.recorded_out.empty() ? settings.out : settings.recorded_out;
  auto rank_main = [&](RankContext& ctx, const RankEnvironment&) { return run_rank_main(ctx, args, settings); };

  // A multi-rank run without --reference compares with the golden of its request, else its
  // launcher runs the single-rank run first (made by the binary under test: the reports say so).
  const std::string golden = degrees_from(args).world_size > 1 && !args.given("reference")
                                 ? matching_golden(args, args.str("golden"))
                                 : "";
  if (!golden.empty()) {
    if (!env) RankLog().info("run: the single-rank reference is the golden ", golden);
    main_args.insert(main_args.end(), {"--reference", golden});
    args = CliArgs::parse("run", specs, main_args);
  } else if (!env && degrees_from(args).world_size > 1 && !args.given("reference")) {
    const std::string reference_dir = settings.out + "/reference";
    std::vector<std::string> single = without_options(
        raw_args, {"world-size", "tp", "sp", "ulysses", "ring", "cfg", "fault", "inject", "ar-strategy", "out",
                   "recorded-out", "reference", "golden", "latent-tolerance", "min-cosine", "min-psnr", "min-ssim"},
        specs);
    single.insert(single.end(), {"--out", reference_dir, "--recorded-out", final_out + "/reference"});
    RankLog().info("run: the single-rank reference first, into ", final_out, "/reference");
    const CliArgs single_args = CliArgs::parse("run", specs, single);
    RunSettings single_settings = run_settings_from(single_args);
    auto single_main = [&](RankContext& ctx, const RankEnvironment&) {
      return run_rank_main(ctx, single_args, single_settings);
    };
    const int rc = run_multi_rank_command("run", single_args, single, heads, single_main);
    if (rc != kExitOk) {
      RankLog().error("glmh run: the single-rank reference run failed (exit ", rc, ")");
      return rc == kExitUsage ? kExitUsage : kExitInfrastructure;
    }
    main_args.insert(main_args.end(), {"--reference", reference_dir});
  }
  const int rc = run_multi_rank_command("run", args, main_args, heads, rank_main);
  if (staged && (rc == kExitOk || rc == kExitCheckFailed)) {
    staged->commit();
  } else if (staged) {
    RankLog().error("glmh run: ", final_out, " is left as it was; what this run wrote is in ", staged->path());
  }
  return rc;
}

}  // namespace glmh
