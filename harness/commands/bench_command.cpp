#include "harness/commands/bench_command.h"

#include <fstream>
#include <iostream>
#include <map>

#include "harness/caching/cache_figures.h"
#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "harness/launch/local_launcher.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_log.h"
#include "harness/io/staged_directory.h"
#include "harness/reports/report_writers.h"
#include "harness/scenarios/scenario_runner.h"
#include "harness/scenarios/scenario_file.h"
#include "harness/timing/bench_figures.h"
#include "pipeline/cache/cache_dit_releases.h"

namespace glmh {

namespace {

std::vector<OptionSpec> bench_option_specs() {
  return {
      {"scenarios", "FILE", "the scenario file (scenarios/README.md)", ""},
      {"images-anywhere", "", "allow scenario images outside the scenario file's folder", ""},
      {"golden", "DIR", "golden store for the checked run (default: references computed first)", ""},
      {"filter", "REGEX", "only the scenarios whose name matches", ""},
      {"cache", "PROFILE", "run every scenario with this DiT cache profile instead of its cache column", ""},
      {"warmup", "N", "untimed iterations after the checked run", "1"},
      {"repeat", "N", "at least N timed iterations", "5"},
      {"min-seconds", "S", "and at least this long per scenario", "0"},
      {"profile", "", "also profile denoise steps of each scenario: its step breakdown and a Chrome trace per rank", ""},
      {"profile-steps", "N", "denoise steps each --profile records", "2"},
      {"out", "DIR", "report directory (default: reports/<run-id>)", ""},
      {"scenario-timeout", "SEC", "a scenario is stopped after this long", "3600"},
      {"help", "", "show this help", ""},
  };
}

}  // namespace

int bench_command(const std::vector<std::string>& raw_args) {
  const auto specs = bench_option_specs();
  RankLog log;
  CliArgs args;
  std::vector<Scenario> selected;
  try {
    args = CliArgs::parse("bench", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "bench",
          "Benchmarks every scenario with expect=pass: one checked run (all checks, against the\n"
          "single-rank reference), then --warmup untimed and at least --repeat timed iterations\n"
          "lasting at least --min-seconds, with no check inside them. Reports median / p90 / min /\n"
          "max per stage, end to end and per denoise step (max over ranks), peak memory and time in\n"
          "collectives per rank, and each layout's speedup and efficiency over the single-rank run\n"
          "of the same request in this invocation (added when the file has none), next to the\n"
          "Amdahl bound. Cached scenarios add their hit rate, the ideal denoising speedup of their\n"
          "schedule and, with the same layout uncached in the run, the measured one. Writes\n"
          "results.csv, summary.md, report.html and junit.xml. With --profile, one more iteration\n"
          "per scenario runs --profile-steps denoise steps under libtorch's profiler: a Chrome trace\n"
          "per rank in its run directory and the step's breakdown (GEMMs, attention, copies, other,\n"
          "exposed communication, idle) in the reports, beside the single-rank step's.",
          specs);
      return kExitOk;
    }
    if (!args.given("scenarios")) throw UsageError("glmh bench: --scenarios is required");
    for (auto s : filter_scenarios(read_scenario_file(args.str("scenarios"), {args.flag("images-anywhere")}), args.str("filter"))) {
      if (s.expect != "pass") continue;  // a fault is validated, never timed
      if (args.given("cache")) {
        s.cache = args.str("cache");
        try {
          parse_cache_profile(s.cache).for_steps(s.steps);
        } catch (const CacheConfigError& e) {
          throw UsageError("glmh bench: --cache: " + std::string(e.what()));
        }
      }
      selected.push_back(s);
    }
    if (selected.empty()) throw UsageError("glmh bench: no scenario with expect=pass is selected");
    if (args.integer("repeat", 0) < 1 && args.real("min-seconds") <= 0)
      throw UsageError("glmh bench: --repeat must be >= 1 (or --min-seconds > 0)");
    args.integer("warmup", 0);
    args.integer("profile-steps", 1);
  } catch (const std::invalid_argument& e) {
    log.error(e.what());
    return kExitUsage;
  }
  // Every request needs its single-rank run in the same invocation, first.
  std::map<std::string, bool> has_single;
  for (const auto& s : selected) has_single[s.reference_key()] = has_single[s.reference_key()] || s.world_size == 1;
  std::vector<Scenario> all;
  for (const auto& s : selected)
    if (!has_single[s.reference_key()]) {
      Scenario single = single_rank_request(s);
      single.name = "single-rank." + s.name;
      all.push_back(single);
      has_single[s.reference_key()] = true;
    }
  all.insert(all.end(), selected.begin(), selected.end());

  const std::string run_id = make_run_id();
  const std::string out = args.given("out") ? args.str("out") : "reports/" + run_id;
  std::cout << "# glmh bench " << args.str("scenarios") << ": " << all.size() << " scenario(s), reports in " << out
            << std::endl;
  ScenarioRunOptions options;
  options.golden = args.str("golden");
  StagedDirectory staged(out);  // docs/reliability.md#crash-safe-outputs
  options.out = staged.path();
  options.recorded_out = out;
  options.limit = std::chrono::seconds(args.integer("scenario-timeout", 1));
  options.extra_run_args = {"--warmup", args.str("warmup"), "--repeat", args.str("repeat"), "--min-seconds",
                            args.str("min-seconds")};
  if (args.flag("profile")) {
    options.extra_run_args.push_back("--profile");
    options.extra_run_args.insert(options.extra_run_args.end(), {"--profile-steps", args.str("profile-steps")});
  }
  std::vector<ScenarioOutcome> outcomes = run_scenarios(all, options);
  for (auto& o : outcomes) {
    try {
      read_bench_figures(o);
    } catch (const std::exception& e) {
      o.passed = false;
      o.reason = "bench.json unreadable: " + std::string(e.what());
    }
    if (o.passed && o.performance.empty()) {
      o.passed = false;
      o.reason = "no timed iterations (no bench.json)";
    }
  }
  add_speedups(outcomes);
  try {
    add_cache_figures(outcomes);
  } catch (const std::exception& e) {
    log.error("glmh bench: ", e.what());
    return kExitInfrastructure;
  }
  const ReportContext context =
      scenario_report_context("glmh bench " + args.str("scenarios"), run_id, args.str("scenarios"), outcomes);
  write_staged_reports(staged, context, outcomes);
  for (const auto& o : outcomes)
    if (o.has_figure("speedup:end_to_end"))
      std::cout << "  " << o.scenario.name << ": denoising " << o.figure("speedup:glm_image.denoising") << "x, end to end "
                << o.figure("speedup:end_to_end") << "x (Amdahl bound " << o.figure("amdahl:end_to_end") << "x) on "
                << o.scenario.world_size << " ranks\n";
  const auto reasons = invalid_reasons(outcomes);
  std::cout << "Result is : " << (reasons.empty() ? "VALID" : "INVALID") << "; " << out << "/summary.md" << std::endl;
  return outcomes_exit_code(outcomes);
}

}  // namespace glmh
