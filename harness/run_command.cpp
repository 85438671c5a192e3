#include "run_command.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "bench_iterations.h"
#include "checks/check_result.h"
#include "checks/output_parity_check.h"
#include "checks/rank_gather.h"
#include "checks/request_equality_check.h"
#include "checks/rotary_sharding_check.h"
#include "checks/token_equality_check.h"
#include "exit_codes.h"
#include "glm_image_cli.h"
#include "multi_rank_command.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_context.h"
#include "png_image.h"
#include "report_files.h"

namespace glmh {

namespace {

std::vector<OptionSpec> run_option_specs() {
  auto specs = runtime_option_specs();
  const auto model = glm_image_option_specs();
  specs.insert(specs.end(), model.begin(), model.end());
  const std::vector<OptionSpec> own = {
      {"ar-strategy", "A", "how the AR stage runs: " + all_ar_strategy_names(), "main-rank"},
      {"fault", "F", "reproduce a known bug: " + all_fault_names(), "none"},
      {"ar-eager", "", "AR decode step by step from the host instead of replaying a CUDA graph (for comparison)", ""},
      {"reference", "DIR", "the single-rank run to compare with (a glmh run --world-size 1 --out DIR); "
                           "default: the launcher runs it first into OUT/reference", ""},
      {"latent-tolerance", "X", "fp32 parity: max |latents - single-rank| / max |single-rank| allowed", "1e-4"},
      {"min-cosine", "X", "bf16 parity: least cosine of the latents with the single-rank latents", "0.999"},
      {"min-psnr", "DB", "least PSNR of the image against the single-rank image", "40"},
      {"warmup", "N", "benchmark: untimed iterations after the checked run", "0"},
      {"repeat", "N", "benchmark: at least N timed iterations (no checks inside), into bench.json", "0"},
      {"min-seconds", "S", "benchmark: and at least this long", "0"},
      {"out", "DIR", "results.csv, run.json, latents.safetensors, prior_tokens.safetensors, image.png", ""},
      {"help", "", "show this help", ""},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

struct RunSettings {
  ArStrategy strategy = ArStrategy::MainRank;
  GlmImageFault fault = GlmImageFault::None;
  bool ar_cuda_graph = true;
};

RunSettings settings_from(const CliArgs& args) {
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
  s.ar_cuda_graph = !args.flag("ar-eager");
  return s;
}

ParityReference read_reference(const std::string& dir) {
  ParityReference ref;
  const auto latents = SafetensorsFile::open(dir + "/latents.safetensors");
  if (!latents->contains("latents"))
    throw CheckpointError(latents->path() + ": no tensor 'latents' (expected the final latents of a single-rank run)");
  ref.latents = latents->tensor("latents").to(at::kFloat).clone();
  if (posix_fs::exists(dir + "/image.png")) ref.image = read_png(dir + "/image.png");
  return ref;
}

// The stage after which every rank must hold the AR stage's result.
std::string last_ar_stage(const GlmImageStageSet& set) {
  std::string last;
  for (const auto& stage : set.stages)
    if (stage->name().rfind("glm_image.ar", 0) == 0) last = stage->name();
  return last;
}

// What the run was, for whoever reads the directory later: settings, layout, versions, verdict.
void write_run_json(const std::string& dir, const RankContext& ctx, const CliArgs& args, const RunSettings& settings,
                    const GlmImageModels& models, const std::vector<CheckResult>& checks) {
  nlohmann::json j;
  j["model"] = models.source().description();
  j["dtype"] = models.dtype() == at::kBFloat16 ? "bf16" : "fp32";
  j["device"] = ctx.device().str();
  j["device_name"] = device_name(ctx.device().is_cuda() ? ctx.device().index() : -1);
  j["backend"] = backend_name(ctx.backend());
  const ParallelLayout& l = ctx.layout();
  j["layout"] = {{"description", l.describe()}, {"world_size", l.world_size()}, {"tp", l.tp()}, {"sp", l.sp()},
                 {"ulysses", l.ulysses()}, {"ring", l.ring()}, {"cfg", l.cfg()}};
  j["ar_strategy"] = ar_strategy_name(settings.strategy);
  j["fault"] = fault_name(settings.fault);
  j["ar_cuda_graph"] = settings.ar_cuda_graph;
  for (const char* key : {"prompt", "height", "width", "steps", "guidance", "seed", "reference"}) j["request"][key] = args.str(key);
  j["glmh_revision"] = git_revision();
  j["libtorch"] = torch_version();
  j["nccl_environment"] = nccl_environment();
  j["verdict"] = any_failed(checks) ? "INVALID" : "VALID";
  write_file_atomically(dir + "/run.json", j.dump(2) + "\n");
}

void write_results(const std::string& dir, const std::vector<CheckResult>& checks,
                   const std::vector<StageRecord>& records, const at::Tensor& stage_seconds) {
  std::ostringstream csv;
  csv << "check,status,value,threshold,detail\n";
  for (const auto& c : checks)
    csv << c.name << "," << status_name(c.status) << "," << c.value << "," << c.threshold << ","
        << csv_cell(c.detail) << "\n";
  for (size_t i = 0; i < records.size(); ++i)
    csv << "stage_seconds:" << records[i].stage << ",na," << stage_seconds[int64_t(i)].item<double>() << ",,"
        << csv_cell(std::string("wall clock, max over ranks, ") + parallelism_name(records[i].parallelism)) << "\n";
  write_file_atomically(dir + "/results.csv", csv.str());
}

int run_rank_main(RankContext& ctx, const CliArgs& args, const RunSettings& settings) {
  const ParallelLayout& layout = ctx.layout();
  std::shared_ptr<GlmImageModels> models;
  Request request;
  GlmImageParams params;
  ParityReference reference;
  try {
    models = open_models(args, ctx.device(), "run");
    params = params_from(args, *models);
    request = make_glm_image_request(params);
    const std::string why = why_fault_cannot_fire(settings.fault, layout, params.sampling.greedy, params.guidance);
    if (!why.empty()) throw UsageError("glmh run: " + why);
    if (layout.cfg() > 1 && params.guidance <= 1.0)
      throw UsageError("glmh run: --cfg 2 needs --guidance > 1 (it runs the two CFG branches on two ranks)");
    if (args.given("reference")) reference = read_reference(args.str("reference"));
    const RankCoords coords = ctx.coords();
    models->set_dit_tensor_parallel(coords.tp_rank, layout.tp());
    if (settings.strategy == ArStrategy::Tp) models->set_ar_tensor_parallel(&ctx.group(GroupKind::Tp));
    GlmImageModels::Which which;
    // Only the ranks that run the AR hold it.
    which.ar = ctx.rank() == 0 || settings.strategy != ArStrategy::MainRank ||
               settings.fault == GlmImageFault::ArPerRankSeed ||
               (settings.fault == GlmImageFault::CfgRankSource && coords.cfg_rank == 0);
    which.vision = which.ar && params.reference_image.defined();
    which.vae = true;
    models->preload(which);  // loading stays out of the stage times
  } catch (const CheckpointError& e) {
    throw UsageError(e.what());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("glmh run: ") + e.what());
  }
  if (ctx.rank() == 0)
    ctx.log().info("run: ", models->source().description(), ", ", params.height, "x", params.width, ", ", params.steps,
                   " steps; ", layout.describe(), "; ar-strategy ", ar_strategy_name(settings.strategy),
                   settings.fault != GlmImageFault::None ? std::string("; fault ") + fault_name(settings.fault) : "");

  std::vector<CheckResult> checks;
  GlmImageRunOptions options;
  options.ar_strategy = settings.strategy;
  options.fault = settings.fault;
  options.ar_cuda_graph = settings.ar_cuda_graph;
  const int64_t head_dim = models->dit().config().attention_head_dim;
  options.on_sp_shards = [&](RankContext& c, const Request& r, const SpShardPlan& plan, const SpShards& shards) {
    WholeSequence whole;
    std::tie(whole.cos, whole.sin) = get_freqs_cis(plan.grid_h, plan.grid_w, head_dim);
    whole.latents = r.tensor(field::kLatents);
    whole.prior_ids = r.tensor(field::kPriorTokenId);
    checks.push_back(rotary_sharding_check(plan, shards, whole, c));
    if (checks.back().failed()) throw RunStopped("the SP shards are wrong: " + checks.back().detail);
  };
  // Progress on a terminal (rank 0): AR tokens and denoise steps, one line updated in place.
  if (ctx.rank() == 0 && ::isatty(STDERR_FILENO)) {
    auto show = [](const char* what) {
      return [what](int64_t done, int64_t total) {
        if (done == total || done % 16 == 0)
          std::cerr << "\r\033[K[rank 0] " << what << " " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
      };
    };
    options.on_ar_token = show("AR tokens");
    options.on_denoise_step = show("denoise steps");
  }
  GlmImageStageSet pipeline = make_glm_image_stages(models, options);
  const std::string ar_done = last_ar_stage(pipeline);
  const bool ar_from_main_rank = settings.strategy == ArStrategy::MainRank && settings.fault == GlmImageFault::None;
  ExecutorHooks hooks;
  hooks.after_stage = [&](const Stage& stage, Request& r, RankContext& c) {
    if (stage.name() != ar_done) return;
    checks.push_back(request_equality_check(r.serialize(), c, /*compare_timings=*/ar_from_main_rank));
    const at::Tensor tokens = r.has(field::kPriorTokenId) ? r.tensor(field::kPriorTokenId) : at::Tensor();
    checks.push_back(token_equality_check(tokens, c));
    // A rank without tokens cannot denoise: stop every rank here, with the failed check.
    const std::vector<double> held = gather_values(c.group(GroupKind::World), tokens.defined() ? 1.0 : 0.0);
    for (double h : held)
      if (h == 0) throw RunStopped("a rank holds no prior tokens after the AR stage");
  };

  ParallelExecutor executor(ctx, hooks);
  std::string stopped;
  const Request fresh = request;
  try {
    executor.execute(pipeline.stages, request);
  } catch (const RunStopped& e) {
    stopped = e.what();
  }
  // Performance mode: timed iterations after the checked run, none of them checked.
  BenchSettings bench;
  bench.warmup = int(args.integer("warmup", 0));
  bench.repeat = int(args.integer("repeat", 0));
  bench.min_seconds = args.real("min-seconds");
  std::optional<BenchSamples> samples;
  if ((bench.repeat > 0 || bench.min_seconds > 0) && stopped.empty()) {
    ctx.enter_stage("bench");
    samples = run_bench_iterations(ctx, models, fresh, options, bench);
  }

  ctx.enter_stage("checks");
  const bool bf16 = models->dtype() == at::kBFloat16;
  if (!stopped.empty()) {
    checks.push_back(CheckResult::not_applicable("output_parity", "not run: " + stopped));
  } else if (!reference.latents.defined()) {
    checks.push_back(CheckResult::not_applicable(
        "output_parity", ctx.world_size() == 1 ? "this is the single-rank run" : "no single-rank reference given"));
  } else {
    const at::Tensor image = request.has(field::kImage) ? request.tensor(field::kImage) : at::Tensor();
    ParityThresholds thresholds;
    thresholds.latent_tolerance = args.real("latent-tolerance");
    thresholds.min_cosine = args.real("min-cosine");
    thresholds.min_psnr_db = args.real("min-psnr");
    for (auto& c : output_parity_checks(request.tensor(field::kLatents), image, reference, bf16, thresholds, ctx))
      checks.push_back(std::move(c));
  }

  // Stage wall times, max over ranks.
  const auto& records = executor.records();
  at::Tensor seconds = at::zeros({int64_t(records.size())}, at::TensorOptions().dtype(at::kDouble).device(ctx.device()));
  for (size_t i = 0; i < records.size(); ++i) seconds[int64_t(i)] = records[i].total_seconds;
  ctx.group(GroupKind::World).all_reduce(seconds, ReduceOp::Max);
  ctx.synchronize_device();
  seconds = seconds.cpu();

  const bool failed = any_failed(checks);
  if (ctx.rank() == 0) {
    for (const auto& c : checks) ctx.log().info("check ", c.name, ": ", status_name(c.status), " — ", c.detail);
    for (size_t i = 0; i < records.size(); ++i)
      ctx.log().info("stage ", records[i].stage, ": ", seconds[int64_t(i)].item<double>(), " s (max over ranks)");
    const std::string out = args.str("out");
    posix_fs::make_directories(out);
    if (stopped.empty()) write_run_outputs(out, request, "glmh run");
    write_results(out, checks, records, seconds);
    write_run_json(out, ctx, args, settings, *models, checks);
    if (samples) {
      nlohmann::json j = samples->to_json();
      j["warmup"] = bench.warmup;
      j["repeat"] = bench.repeat;
      j["min_seconds"] = bench.min_seconds;
      write_file_atomically(out + "/bench.json", j.dump(1) + "\n");
      ctx.log().info("bench: ", samples->stage_seconds.size(), " timed iterations; end to end median ",
                     j["statistics"]["end_to_end"]["median"].get<double>(), " s");
    }
    ctx.log().info("Result is : ", failed ? "INVALID" : "VALID", "; results in ", out, "/results.csv");
  }
  ctx.enter_stage("done");
  return failed ? kExitCheckFailed : kExitOk;
}

// The DiT's head count, for the layout constraints checked before any rank starts (nullopt when
// the checkpoint cannot be read here; the ranks then report it).
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

}  // namespace

int run_command(const std::vector<std::string>& raw_args) {
  const auto specs = run_option_specs();
  CliArgs args;
  RunSettings settings;
  try {
    args = CliArgs::parse("run", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "run",
          "Runs GLM-Image under a parallel layout (world = cfg x tp x sp, sp = ulysses x ring) and\n"
          "checks it: request and token equality across ranks after the AR stage, shard-correct\n"
          "rotary rows covering the same tokens as the latent band and prior ids, and parity with\n"
          "the single-rank run (fp32: max error <= 1e-4 x max |reference|; bf16: latent cosine\n"
          ">= 0.999 and image PSNR >= 40 dB). Writes DIR/results.csv (check,status,value,\n"
          "threshold,detail), latents.safetensors, prior_tokens.safetensors and image.png.",
          specs);
      return kExitOk;
    }
    if (!args.given("out")) throw UsageError("glmh run: --out is required");
    settings = settings_from(args);
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
  // A fault that could never fire is refused before anything starts (the ranks check again with
  // the checkpoint's sampling defaults).
  try {
    const ParallelLayout layout = ParallelLayout::create(degrees_from(args), heads);
    const std::string why = why_fault_cannot_fire(settings.fault, layout, args.flag("greedy"), args.real("guidance"));
    if (!why.empty()) {
      RankLog().error("glmh run: ", why);
      return kExitUsage;
    }
  } catch (const LayoutError&) {
    // Refused with its message by run_multi_rank_command below.
  }
  auto rank_main = [&](RankContext& ctx, const RankEnvironment&) { return run_rank_main(ctx, args, settings); };

  // The launcher of a multi-rank run without --reference runs the single-rank run first.
  std::vector<std::string> main_args = raw_args;
  bool launcher = false;
  try {
    launcher = !RankEnvironment::from_environment();
  } catch (const std::invalid_argument&) {
    // A malformed rank environment: run_multi_rank_command reports it.
  }
  if (launcher && degrees_from(args).world_size > 1 && !args.given("reference")) {
    const std::string reference_dir = args.str("out") + "/reference";
    std::vector<std::string> single = without_options(
        raw_args, {"world-size", "tp", "sp", "ulysses", "ring", "cfg", "fault", "ar-strategy", "out", "reference",
                   "latent-tolerance", "min-cosine", "min-psnr"}, specs);
    single.insert(single.end(), {"--out", reference_dir});
    RankLog().info("run: the single-rank reference first, into ", reference_dir);
    const CliArgs single_args = CliArgs::parse("run", specs, single);
    const int rc = run_multi_rank_command("run", single_args, single, heads, rank_main);
    if (rc != kExitOk) {
      RankLog().error("glmh run: the single-rank reference run failed (exit ", rc, ")");
      return rc == kExitUsage ? kExitUsage : kExitInfrastructure;
    }
    main_args.insert(main_args.end(), {"--reference", reference_dir});
  }
  return run_multi_rank_command("run", args, main_args, heads, rank_main);
}

}  // namespace glmh
