#include "demo_command.h"

#include <ATen/ATen.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "checks/check_result.h"
#include "checks/request_equality_check.h"
#include "checks/token_equality_check.h"
#include "exit_codes.h"
#include "fault_injection.h"
#include "multi_rank_command.h"
#include "pipeline/demo/demo_pipeline.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/runtime/rank_context.h"
#include "report_files.h"

namespace glmh {

namespace {

constexpr double kParityTolerance = 1e-5;  // fp32: max|out - ref| / max|ref|

std::vector<OptionSpec> demo_option_specs() {
  auto specs = runtime_option_specs();
  const std::vector<OptionSpec> own = {
      {"steps", "N", "denoising steps", "8"},
      {"height", "H", "latent rows (split over SP)", "32"},
      {"width", "W", "latent columns", "32"},
      {"channels", "C", "latent channels (split over TP)", "16"},
      {"guidance", "G", "CFG guidance scale", "4.0"},
      {"seed", "S", "random seed", "42"},
      {"reports", "DIR", "where rank 0 writes reports/<run-id>/", "reports"},
      {"inject", "KIND:RANK:STAGE", "inject a fault (throw, exit, kill, stall, freeze, perturb)", ""},
      {"help", "", "show this help", ""},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

demo::DemoConfig config_from(const CliArgs& a) {
  demo::DemoConfig c;
  c.steps = a.integer("steps", 1);
  c.height = a.integer("height", 1);
  c.width = a.integer("width", 1);
  c.channels = a.integer("channels", 3);
  c.guidance = a.real("guidance");
  c.seed = static_cast<uint64_t>(a.integer("seed", 0));
  return c;
}

// Each rank's final latents against the single-rank reference computed from its own inputs;
// the worst relative error over ranks is the value.
CheckResult output_parity(const Request& r, RankContext& ctx, const demo::DemoConfig& c) {
  const at::Tensor ref = demo::demo_reference_latents(c, r.tensor("noise"), r.tensor("prior_token_ids"));
  const at::Tensor out = r.tensor("latents");
  at::Tensor err = at::empty({2}, at::TensorOptions().dtype(at::kDouble).device(ctx.device()));
  err[0] = ((out - ref).abs().max() / ref.abs().max()).to(at::kDouble);
  err[1] = double(ctx.rank());
  // Max over ranks of the error, and (through a second max) which rank holds it.
  at::Tensor worst = err.narrow(0, 0, 1).clone();
  ctx.group(GroupKind::World).all_reduce(worst, ReduceOp::Max);
  ctx.synchronize_device();
  at::Tensor holder = at::full({1}, err[0].item<double>() == worst.item<double>() ? double(ctx.rank()) : -1.0,
                               err.options());
  ctx.group(GroupKind::World).all_reduce(holder, ReduceOp::Max);
  ctx.synchronize_device();
  const double value = worst.item<double>();
  std::ostringstream detail;
  detail << "max |latents - reference| / max |reference| = " << std::setprecision(3) << value
         << " (worst on rank " << int(holder.item<double>()) << ")";
  return CheckResult::pass_or_fail("output_parity", value <= kParityTolerance, value, kParityTolerance, detail.str());
}

std::string format_seconds(double s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(4) << s;
  return o.str();
}

void write_report(const std::string& dir, RankContext& ctx, const RankEnvironment& env,
                  const std::vector<CheckResult>& checks, const std::vector<StageRecord>& records,
                  const at::Tensor& stage_seconds /* [world, stages] */, bool valid) {
  std::ostringstream csv, md;
  csv << "kind,name,status,value,threshold,detail\n";
  for (const auto& c : checks)
    csv << "check," << c.name << "," << status_name(c.status) << "," << c.value << ","
        << c.threshold << "," << csv_cell(c.detail) << "\n";
  const at::Tensor max_s = std::get<0>(stage_seconds.max(0));

  md << "# glmh demo — run " << env.run_id << "\n\n";
  md << "| | |\n|---|---|\n";
  md << "| layout | " << ctx.layout().describe() << " |\n";
  md << "| backend / device | " << backend_name(ctx.backend()) << " / " << ctx.device().str() << " ("
     << device_name(ctx.device().is_cuda() ? ctx.device().index() : -1) << ") |\n";
  md << "| launcher | " << env.launcher << " |\n";
  md << "| glmh revision | " << git_revision() << " |\n";
  md << "| libtorch | " << torch_version() << " |\n";
  md << "| host / cpu | " << host_name() << " / " << md_cell(cpu_model()) << " |\n";
  md << "| NCCL environment | " << md_cell(nccl_environment()) << " |\n\n";
  md << "## Checks\n\n| check | status | value | threshold | detail |\n|---|---|---|---|---|\n";
  for (const auto& c : checks)
    md << "| " << c.name << " | " << (c.failed() ? "**FAIL**" : status_name(c.status)) << " | " << c.value << " | "
       << c.threshold << " | " << md_cell(c.detail) << " |\n";
  md << "\n## Stages\n\nWall clock per stage including the executor's broadcasts and barriers, "
        "max over ranks.\n\n| stage | parallelism | seconds (max over ranks) | seconds (rank 0) |\n"
        "|---|---|---|---|\n";
  for (size_t i = 0; i < records.size(); ++i) {
    const double worst = max_s[i].item<double>();
    md << "| " << records[i].stage << " | " << parallelism_name(records[i].parallelism) << " | "
       << format_seconds(worst) << " | " << format_seconds(stage_seconds[0][i].item<double>())
       << " |\n";
    csv << "timing," << records[i].stage << ",na," << worst << ",," << "seconds, max over ranks\n";
  }
  md << "\nResult is : " << (valid ? "VALID" : "INVALID") << "\n";
  write_file_atomically(dir + "/results.csv", csv.str());
  write_file_atomically(dir + "/summary.md", md.str());
}

int demo_rank_main(RankContext& ctx, const RankEnvironment& env, const CliArgs& args,
                   const FaultSpec& fault) {
  const demo::DemoConfig config = config_from(args);
  const auto stages = demo::make_demo_stages();
  Request request = demo::make_demo_request(config, ctx.device());
  // The request as each rank holds it right after the send stage, for the equality checks.
  std::string after_send;
  ExecutorHooks snapshot;
  snapshot.after_stage = [&](const Stage& stage, Request& r, RankContext&) {
    if (stage.parallelism() == StageParallelism::MainRankOnlyAndSendToOthers) after_send = r.serialize();
  };
  ParallelExecutor executor(ctx, chain_hooks(fault.hooks(), snapshot));
  if (ctx.rank() == 0) ctx.log().info("demo: ", ctx.layout().describe(), ", ", config.steps, " steps");
  executor.execute(stages, request);

  ctx.enter_stage("checks");
  const Request sent = Request::deserialize(after_send, ctx.device());
  std::vector<CheckResult> checks{request_equality_check(after_send, ctx, /*compare_timings=*/true),
                                  token_equality_check(sent.tensor("prior_token_ids"), ctx),
                                  output_parity(request, ctx, config)};
  const bool valid = !any_failed(checks);

  // Per-stage wall time of every rank, gathered for the report.
  const auto& records = executor.records();
  at::Tensor mine = at::empty({int64_t(records.size())}, at::TensorOptions().dtype(at::kDouble));
  for (size_t i = 0; i < records.size(); ++i) mine[i] = records[i].total_seconds;
  at::Tensor all = at::empty({ctx.world_size(), int64_t(records.size())}, mine.options());
  {
    at::Tensor mine_dev = mine.to(ctx.device()), all_dev = all.to(ctx.device());
    ctx.group(GroupKind::World).all_gather(all_dev, mine_dev);
    ctx.synchronize_device();
    all = all_dev.cpu();
  }

  if (ctx.rank() == 0) {
    for (const auto& c : checks)
      ctx.log().info("check ", c.name, ": ", c.failed() ? "FAIL" : status_name(c.status), " — ", c.detail);
    const std::string dir = args.str("reports") + "/" + (env.run_id.empty() ? "run" : env.run_id);
    write_report(dir, ctx, env, checks, records, all, valid);
    ctx.log().info("Result is : ", valid ? "VALID" : "INVALID", "; report in ", dir, "/summary.md");
  }
  ctx.enter_stage("done");
  return valid ? kExitOk : kExitCheckFailed;
}

}  // namespace

int demo_command(const std::vector<std::string>& raw_args) {
  const auto specs = demo_option_specs();
  CliArgs args;
  FaultSpec fault;
  try {
    args = CliArgs::parse("demo", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "demo",
          "Runs the demo pipeline (one stage of each parallelism type) on N ranks, checks token\n"
          "equality across ranks and parity with the single-rank reference, and writes\n"
          "reports/<run-id>/summary.md and results.csv.",
          specs);
      return kExitOk;
    }
    config_from(args);
    fault = FaultSpec::parse(args.str("inject"));
    if (const auto env = RankEnvironment::from_environment())
      fault.validate(demo::make_demo_stages(), env->world_size);
    else
      fault.validate(demo::make_demo_stages(), degrees_from(args).world_size);
  } catch (const UsageError& e) {
    RankLog().error(e.what());
    return kExitUsage;
  }
  return run_multi_rank_command("demo", args, raw_args, std::nullopt,
                                [&](RankContext& ctx, const RankEnvironment& env) {
                                  return demo_rank_main(ctx, env, args, fault);
                                });
}

}  // namespace glmh
