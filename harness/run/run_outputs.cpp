#include "harness/run/run_outputs.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <optional>

#include "harness/caching/cache_schedule.h"
#include "harness/cli/exit_codes.h"
#include "harness/cli/glm_image_cli.h"
#include "harness/io/report_files.h"
#include "harness/io/staged_directory.h"
#include "harness/reports/report_writers.h"
#include "harness/run/run_reference.h"
#include "harness/scenarios/scenario_runner.h"
#include "harness/timing/step_profiler.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

// What the run was, for whoever reads the directory later: settings, layout, versions, verdict.
void write_run_json(const std::string& dir, RankContext& ctx, const CliArgs& args, const RunSettings& settings,
                    const GlmImageModels& models, const RunRecord& record) {
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
  j["cache"] = settings.cache.describe();
  j["inject"] = args.str("inject");
  j["ar_cuda_graph"] = settings.ar_cuda_graph;
  j["dit_cuda_graph"] = settings.dit_cuda_graph;
  for (const char* key : {"prompt", "height", "width", "steps", "guidance", "seed", "reference"}) j["request"][key] = args.str(key);
  j["glmh_revision"] = git_revision();
  j["libtorch"] = torch_version();
  j["nccl_environment"] = nccl_environment();
  j["verdict"] = record.failed() ? "INVALID" : "VALID";
  write_file_atomically(dir + "/run.json", j.dump(2) + "\n");
}

void write_bench_json(const std::string& dir, const RunSettings& settings, const BenchSamples& samples, RankContext& ctx) {
  nlohmann::json j = samples.to_json();
  j["warmup"] = settings.bench.warmup;
  j["repeat"] = settings.bench.repeat;
  j["min_seconds"] = settings.bench.min_seconds;
  write_file_atomically(dir + "/bench.json", j.dump(1) + "\n");
  if (samples.profile)
    for (size_t rank = 0; rank < samples.profile->traces.size(); ++rank)
      write_file_atomically(dir + "/" + trace_file_name(int(rank)), samples.profile->traces[rank]);
  ctx.log().info("bench: ", samples.stage_seconds.size(), " timed iterations; end to end median ",
                 j["statistics"]["end_to_end"]["median"].get<double>(), " s");
}

// This run as a scenario of its own, for the report writers.
Scenario scenario_of_run(const CliArgs& args, const RunSettings& settings, const ParallelLayout& layout) {
  Scenario s = request_scenario_of(args);
  s.world_size = layout.world_size();
  s.tp = layout.tp();
  s.sp = layout.sp();
  s.ulysses = layout.ulysses();
  s.ring = layout.ring();
  s.cfg = layout.cfg();
  s.ar_strategy = ar_strategy_name(settings.strategy);
  s.fault = fault_name(settings.fault);
  return s;
}

}  // namespace

void write_run_directory(const std::string& dir, RankContext& ctx, const CliArgs& args, const RunSettings& settings,
                         const GlmImageModels& models, const Request& request, const RunRecord& record) {
  // The files go into `target`; paths are recorded as the directory will be named once in place.
  // Without a caller that stages `dir` (glmh run under torchrun), this rank stages it.
  std::optional<StagedDirectory> own_staging;
  if (settings.recorded_out.empty()) own_staging.emplace(dir);
  const std::string target = own_staging ? own_staging->path() : dir;
  const std::string recorded = settings.recorded_out.empty() ? dir : settings.recorded_out;
  posix_fs::make_directories(target);
  if (record.stopped.empty()) write_run_outputs(target, request, "glmh run");
  write_run_json(target, ctx, args, settings, models, record);
  if (record.bench) write_bench_json(target, settings, *record.bench, ctx);
  if (record.cache)
    write_cache_schedule(target + "/cache_hits.safetensors", {*record.cache, settings.cache.describe(), record.dit_layers},
                         "glmh run");

  ScenarioOutcome outcome;
  outcome.scenario = scenario_of_run(args, settings, ctx.layout());
  outcome.passed = !record.failed();
  outcome.exit_code = record.failed() ? kExitCheckFailed : kExitOk;
  outcome.reason = record.failed() ? "a check failed" : "every check passed";
  if (!record.stopped.empty()) outcome.reason += "; the stages stopped early: " + record.stopped;
  outcome.seconds = record.seconds;
  outcome.run_dir = recorded;
  outcome.reference_dir = relocated(args.str("reference"), dir, recorded);
  outcome.reference_origin = reference_origin(args.str("reference"));
  outcome.checks = record.checks;
  outcome.stage_seconds = record.stage_seconds;
  const std::string run_id = recorded.substr(recorded.find_last_of('/') + 1);
  ReportContext context = scenario_report_context("glmh run", run_id, "", {outcome});
  context.written_to = recorded;
  write_reports(target, context, {outcome}, target);
  if (own_staging) own_staging->commit();
}

}  // namespace glmh
