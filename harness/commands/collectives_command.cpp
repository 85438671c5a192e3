#include "harness/commands/collectives_command.h"

#include <ATen/ATen.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "harness/checks/collective_selftest.h"
#include "harness/cli/exit_codes.h"
#include "harness/launch/multi_rank_command.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

int collectives_rank_main(RankContext& ctx) {
  // Per group kind: collectives run, wrong results, seconds (device-synchronised).
  const int kinds = static_cast<int>(std::size(kAllGroupKinds));
  at::Tensor stats = at::zeros({kinds, 3}, at::TensorOptions().dtype(at::kDouble));
  for (int k = 0; k < kinds; ++k) {
    const GroupKind kind = kAllGroupKinds[k];
    ctx.enter_stage(std::string("collectives.") + group_kind_name(kind));
    ctx.synchronize_device();
    const auto t0 = std::chrono::steady_clock::now();
    const CollectiveSelftest result = run_collective_selftest(ctx.group(kind));
    ctx.synchronize_device();
    stats[k][0] = result.collectives_run;
    stats[k][1] = static_cast<double>(result.failures.size());
    stats[k][2] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& f : result.failures) ctx.log().error(f);
  }
  // Wrong counts are summed over ranks (one bad rank fails the row); times take the max.
  at::Tensor wrong = stats.select(1, 1).contiguous().to(ctx.device());
  at::Tensor seconds = stats.select(1, 2).contiguous().to(ctx.device());
  ctx.group(GroupKind::World).all_reduce(wrong, ReduceOp::Sum);
  ctx.group(GroupKind::World).all_reduce(seconds, ReduceOp::Max);
  ctx.synchronize_device();
  wrong = wrong.cpu();
  seconds = seconds.cpu();
  const double total_wrong = wrong.sum().item<double>();
  if (ctx.rank() == 0) {
    std::ostringstream s;
    s << "# glmh collectives: " << ctx.layout().describe() << ", " << backend_name(ctx.backend())
      << " on " << ctx.device().type() << "\n";
    s << "# " << std::left << std::setw(9) << "group" << std::right << std::setw(6) << "size"
      << std::setw(8) << "groups" << std::setw(13) << "collectives" << std::setw(8) << "#wrong"
      << std::setw(12) << "max ms" << "\n";
    for (int k = 0; k < kinds; ++k) {
      const GroupKind kind = kAllGroupKinds[k];
      s << "  " << std::left << std::setw(9) << group_kind_name(kind) << std::right << std::setw(6)
        << ctx.layout().size_of(kind) << std::setw(8) << ctx.layout().groups(kind).size()
        << std::setw(13) << int64_t(stats[k][0].item<double>()) << std::setw(8)
        << int64_t(wrong[k].item<double>()) << std::setw(12) << std::fixed << std::setprecision(3)
        << seconds[k].item<double>() * 1e3 << std::defaultfloat << "\n";
    }
    s << "# Wrong results : " << int64_t(total_wrong) << (total_wrong == 0 ? " OK" : " FAILED") << "\n";
    std::cout << s.str() << std::flush;
  }
  ctx.enter_stage("done");
  return total_wrong == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace

int collectives_command(const std::vector<std::string>& raw_args) {
  auto specs = runtime_option_specs();
  specs.push_back({"help", "", "show this help", ""});
  CliArgs args;
  try {
    args = CliArgs::parse("collectives", specs, raw_args);
  } catch (const UsageError& e) {
    RankLog().error(e.what());
    return kExitUsage;
  }
  if (args.flag("help")) {
    std::cout << CliArgs::help_text(
        "collectives",
        "Runs every collective glmh uses (broadcast, all_reduce sum/max/min and bf16, all_gather,\n"
        "reduce_scatter, all_to_all with equal and uneven splits, send/recv, bytes broadcast,\n"
        "barrier) on every process group of the layout, checks each result against its\n"
        "closed-form value, and prints one row per group kind with the wrong-result count.",
        specs);
    return kExitOk;
  }
  return run_multi_rank_command("collectives", args, raw_args, std::nullopt,
                                [](RankContext& ctx, const RankEnvironment&) {
                                  return collectives_rank_main(ctx);
                                });
}

}  // namespace glmh
