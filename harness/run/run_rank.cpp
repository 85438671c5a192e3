#include "harness/run/run_rank.h"

#include <ATen/ATen.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "harness/checks/ar_first_divergence.h"
#include "harness/checks/cache_consistency_check.h"
#include "harness/checks/collective_precision_check.h"
#include "harness/checks/in_run_checks.h"
#include "harness/cli/exit_codes.h"
#include "harness/run/run_outputs.h"
#include "harness/run/run_reference.h"
#include "harness/run/run_setup.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

// The stage after which every rank must hold the AR stage's result.
std::string last_ar_stage(const GlmImageStageSet& set) {
  std::string last;
  for (const auto& stage : set.stages)
    if (stage->name().rfind("glm_image.ar", 0) == 0) last = stage->name();
  return last;
}

// Progress on a terminal (rank 0): AR tokens and denoise steps, one line updated in place.
ProgressHook terminal_progress(const RankContext& ctx, const char* what) {
  if (ctx.rank() != 0 || !::isatty(STDERR_FILENO)) return {};
  return [what](int64_t done, int64_t total) {
    if (done == total || done % 16 == 0)
      std::cerr << "\r\033[K[rank 0] " << what << " " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
  };
}

// Wall seconds of each stage, max over ranks (collective over the world).
std::vector<std::pair<std::string, double>> stage_seconds_max_over_ranks(RankContext& ctx,
                                                                          const std::vector<StageRecord>& records) {
  at::Tensor seconds = at::zeros({int64_t(records.size())}, at::TensorOptions().dtype(at::kDouble).device(ctx.device()));
  for (size_t i = 0; i < records.size(); ++i) seconds[int64_t(i)] = records[i].total_seconds;
  ctx.group(GroupKind::World).all_reduce(seconds, ReduceOp::Max);
  ctx.synchronize_device();
  seconds = seconds.cpu();
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < records.size(); ++i) out.emplace_back(records[i].stage, seconds[int64_t(i)].item<double>());
  return out;
}

}  // namespace

int run_rank_main(RankContext& ctx, const CliArgs& args, const RunSettings& settings) {
  const auto started = std::chrono::steady_clock::now();
  RunSetup setup = prepare_run(ctx, args, settings);
  const ParallelLayout& layout = ctx.layout();
  if (ctx.rank() == 0)
    ctx.log().info("run: ", setup.models->source().description(), ", ", setup.params.height, "x", setup.params.width,
                   ", ", setup.params.steps, " steps; ", layout.describe(), "; ar-strategy ",
                   ar_strategy_name(settings.strategy),
                   settings.fault != GlmImageFault::None ? std::string("; fault ") + fault_name(settings.fault) : "",
                   settings.inject.none() ? "" : "; inject " + args.str("inject"),
                   settings.cache.enabled ? "; cache " + settings.cache.describe() : "");

  if (ctx.rank() == 0 && args.given("reference"))
    ctx.log().info("single-rank reference: ", reference_origin(args.str("reference")));
  GlmImageRunOptions options;
  options.ar_strategy = settings.strategy;
  options.fault = settings.fault;
  options.ar_cuda_graph = settings.ar_cuda_graph;
  options.dit_cuda_graph = settings.dit_cuda_graph;
  options.cache = settings.cache;
  // Every token and step tells the rank's progress watch that the main thread moves on.
  const ProgressHook mark_progress = [&ctx](int64_t, int64_t) { ctx.note_progress(); };
  options.on_ar_token = chain_progress(chain_progress(settings.inject.progress_hook("glm_image.ar", ctx.rank()),
                                                      terminal_progress(ctx, "AR tokens")),
                                       mark_progress);
  options.on_denoise_step =
      chain_progress(chain_progress(settings.inject.progress_hook("glm_image.denoising", ctx.rank()),
                                    terminal_progress(ctx, "denoise steps")),
                     mark_progress);
  const bool ar_from_main_rank = settings.strategy == ArStrategy::MainRank && settings.fault == GlmImageFault::None;
  TokenReference token_reference{setup.reference.prior_tokens, "", {}};
  const bool ar_tensor_parallel = ar_tensor_parallel_size(settings.strategy, layout) > 1;
  if (ar_tensor_parallel && setup.models->dtype() == at::kBFloat16)
    token_reference.not_comparable =
        "bf16 tensor-parallel AR (its reductions change the logits in the last bits; sampling may diverge)";
  InRunChecks in_run(/*compare_timings=*/ar_from_main_rank, setup.models->dit().config().attention_head_dim,
                     token_reference);
  in_run.set_reference_generated_ids(setup.reference.generated_ids);
  in_run.set_divergence_explainer([&](const Request& r, RankContext& c) -> TokenDivergenceVerdict {
    if (!setup.reference.generated_ids.defined())
      return {false, "the single-rank run's prior_tokens.safetensors holds no ar_generated_ids: no divergence analysis"};
    const at::Tensor mine = r.has(field::kGeneratedIds) ? r.tensor(field::kGeneratedIds) : at::Tensor();
    try {
      const ArDivergence d = explain_first_divergence(*setup.models, setup.params, ar_tensor_parallel, mine,
                                                      setup.reference.generated_ids, c);
      return {d.numerics, d.describe()};
    } catch (const std::invalid_argument& e) {
      return {false, std::string("no divergence analysis: ") + e.what()};
    }
  });
  ExecutorHooks hooks = settings.inject.hooks();
  in_run.attach(options, hooks);
  GlmImageStageSet pipeline = make_glm_image_stages(setup.models, options);
  in_run.set_ar_done_stage(last_ar_stage(pipeline));

  ParallelExecutor executor(ctx, hooks);
  RunRecord record;
  const Request fresh = setup.request;
  try {
    executor.execute(pipeline.stages, setup.request);
  } catch (const RunStopped& e) {
    record.stopped = e.what();
  }
  // Performance mode: timed iterations after the checked run, none of them checked.
  if ((settings.bench.repeat > 0 || settings.bench.min_seconds > 0 || settings.bench.profile_steps > 0) &&
      record.stopped.empty()) {
    ctx.enter_stage("bench");
    GlmImageRunOptions timed = options;
    timed.on_sp_shards = nullptr;
    timed.on_cache_decision = nullptr;
    timed.on_ar_token = timed.on_denoise_step = mark_progress;
    record.bench = run_bench_iterations(ctx, setup.models, fresh, timed, settings.bench);
  }

  ctx.enter_stage("checks");
  record.checks = std::move(in_run.results());
  record.checks.push_back(collective_precision_check(setup.models->dtype(), ctx));
  if (!record.stopped.empty()) {
    record.checks.push_back(CheckResult::not_applicable("output_parity", "not run: " + record.stopped));
  } else if (!setup.reference.latents.defined()) {
    record.checks.push_back(CheckResult::not_applicable(
        "output_parity", ctx.world_size() == 1 ? "this is the single-rank run" : "no single-rank reference given"));
  } else {
    const at::Tensor image = setup.request.has(field::kImage) ? setup.request.tensor(field::kImage) : at::Tensor();
    const bool bf16 = setup.models->dtype() == at::kBFloat16;
    const ParityThresholds thresholds = settings.parity.apply_to(default_parity_thresholds(bf16));
    for (auto& c : output_parity_checks(setup.request.tensor(field::kLatents), image, setup.reference, bf16, thresholds, ctx))
      record.checks.push_back(std::move(c));
  }
  if (settings.cache.enabled && record.stopped.empty() && setup.request.has(field::kCacheHits)) {
    const CacheDecisions mine{setup.request.tensor(field::kCacheHits), setup.request.tensor(field::kCacheDiffs)};
    CacheDecisions merged;
    record.checks.push_back(cache_consistency_check(mine, setup.reference_cache,
                                                    settings.cache.config.residual_diff_threshold, ctx, merged));
    record.cache = merged;
    record.dit_layers = setup.models->dit().config().num_layers;
  }
  record.stage_seconds = stage_seconds_max_over_ranks(ctx, executor.records());
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (ctx.rank() == 0) {
    for (const auto& c : record.checks) ctx.log().info("check ", c.name, ": ", status_name(c.status), " — ", c.detail);
    for (const auto& [stage, seconds] : record.stage_seconds) {
      char text[32];
      std::snprintf(text, sizeof text, "%.3f", seconds);
      ctx.log().info("stage ", stage, ": ", text, " s (max over ranks)");
    }
    write_run_directory(settings.out, ctx, args, settings, *setup.models, setup.request, record);
    const std::string& shown = settings.recorded_out.empty() ? settings.out : settings.recorded_out;
    ctx.log().info("Result is : ", record.failed() ? "INVALID" : "VALID", "; report in ", shown, "/summary.md and ",
                   shown, "/report.html");
  }
  ctx.enter_stage("done");
  return record.failed() ? kExitCheckFailed : kExitOk;
}

}  // namespace glmh
