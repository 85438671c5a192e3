#include "harness/commands/cache_diff_command.h"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "harness/caching/cache_dit_run_comparison.h"
#include "harness/caching/cache_figures.h"
#include "harness/caching/cache_profile_comparison.h"
#include "harness/caching/cache_schedule.h"
#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "harness/launch/local_launcher.h"
#include "harness/io/staged_directory.h"
#include "harness/reports/report_writers.h"
#include "harness/scenarios/scenario_file.h"
#include "harness/scenarios/scenario_runner.h"
#include "harness/timing/bench_figures.h"
#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

namespace {

std::vector<OptionSpec> cache_diff_option_specs() {
  return {
      {"scenarios", "FILE", "the scenario file (its cache column is replaced by the profiles)", ""},
      {"images-anywhere", "", "allow scenario images outside the scenario file's folder", ""},
      {"a", "PROFILE", "the profile in use: cache-dit@VERSION or [cache-dit@VERSION:]CONFIG", ""},
      {"b", "PROFILE", "the candidate profile", ""},
      {"filter", "REGEX", "only the scenarios whose name matches", ""},
      {"require-same-schedule", "", "fail a scenario whose cached steps differ between the profiles", ""},
      {"warmup", "N", "untimed iterations after each checked run (with --repeat)", "1"},
      {"repeat", "N", "timed iterations per run (0: the checked run's stage times)", "0"},
      {"out", "DIR", "report directory (default: reports/<run-id>)", ""},
      {"scenario-timeout", "SEC", "a run is stopped after this long", "3600"},
      {"ours", "PATH", "compare a cache-dit run with glmh's: glmh's run directory or denoise output", ""},
      {"theirs-steps", "FILE", "with --ours: cache-dit's cached steps as JSON {cached_steps, cfg_cached_steps}", ""},
      {"theirs", "FILE", "with --ours: cache-dit's final latents (.safetensors) or image (.png)", ""},
      {"theirs-tensor", "NAME", "with --ours: the tensor of --theirs that holds the latents", "latents"},
      {"max-relative-error", "X", "with --ours: latents tolerance, max |a - b| / max |b|", "1e-4"},
      {"help", "", "show this help", ""},
  };
}

const char kHelp[] =
    "Upgrade validation: every scenario of --scenarios with expect=pass runs three times on its\n"
    "layout — uncached, under profile --a and under profile --b — (multi-rank runs also against\n"
    "their single-rank run with the same profile). Per scenario it reports the cached steps of each\n"
    "profile and branch, the decisions that changed (with both diffs and thresholds), PSNR and SSIM of\n"
    "each profile's image against the uncached one (gates: > 25 dB, > 0.90) and of B against A,\n"
    "multi-rank runs against their single-rank cached run (gates: > 35 dB, > 0.90), and each\n"
    "profile's denoising speedup over uncached next to the ideal one for its schedule. Writes\n"
    "results.csv, summary.md, report.html and junit.xml; exit 1 when a gate fails.\n"
    "\n"
    "With --ours PATH --theirs-steps FILE [--theirs FILE]: compares a run of a cache-dit build of your\n"
    "own with glmh's run of the same request and profile: cached steps per branch exactly, latents\n"
    "within --max-relative-error or images within PSNR 40 dB / SSIM 0.98.";

int own_run_mode(const CliArgs& args) {
  if (!args.given("theirs-steps")) throw UsageError("glmh cache-diff: --ours needs --theirs-steps");
  CacheDitRunFiles files{args.str("ours"), args.str("theirs-steps"), args.str("theirs"), args.str("theirs-tensor")};
  CacheDitRunTolerances tolerances;
  tolerances.max_relative_error = args.real("max-relative-error");
  const auto checks = compare_with_cache_dit_run(files, tolerances);
  std::cout << "# glmh cache-diff: " << files.ours << " (glmh) against " << files.theirs_steps
            << (files.theirs.empty() ? "" : " and " + files.theirs) << " (cache-dit)\n";
  for (const auto& c : checks) std::cout << "  " << c.name << ": " << status_name(c.status) << " — " << c.detail << "\n";
  const bool failed = any_failed(checks);
  std::cout << "Result is : " << (failed ? "DIFFERENT" : "SAME") << std::endl;
  return failed ? kExitCheckFailed : kExitOk;
}

Scenario with_cache(Scenario s, const std::string& profile, const std::string& suffix) {
  s.cache = profile;
  s.name += suffix;
  return s;
}

// One line per scenario and profile on stdout.
void print_rows(const std::vector<ScenarioOutcome>& outcomes) {
  std::cout << std::left << std::setw(34) << "# scenario" << std::setw(10) << "hit rate" << std::setw(10) << "ideal"
            << std::setw(10) << "speedup" << std::setw(18) << "PSNR/SSIM vs U" << std::setw(18) << "vs single rank"
            << std::setw(18) << "B vs A" << "verdict\n";
  for (const auto& o : outcomes) {
    if (o.scenario.cache == "none") continue;
    auto figure = [&o](const std::string& name, int digits) {
      std::ostringstream text;
      if (!o.has_figure(name)) return std::string("-");
      text << std::fixed << std::setprecision(digits) << o.figure(name);
      return text.str();
    };
    std::cout << "  " << std::setw(32) << o.scenario.name << std::setw(10) << figure(kCacheHitRate, 2) << std::setw(10)
              << figure(kCacheIdealSpeedup, 2) << std::setw(10) << figure(kSpeedupOverUncached, 2) << std::setw(18)
              << figure("psnr:vs_uncached", 1) + " / " + figure("ssim:vs_uncached", 3) << std::setw(18)
              << (o.has_figure("psnr:vs_single_rank")
                      ? figure("psnr:vs_single_rank", 1) + " / " + figure("ssim:vs_single_rank", 3)
                      : "-")
              << std::setw(18) << (o.has_figure("psnr:vs_a") ? figure("psnr:vs_a", 1) + " / " + figure("ssim:vs_a", 3) : "-")
              << (o.passed ? "pass" : "FAIL: " + o.reason) << "\n";
    // The schedule comparison, one line per branch and per changed call.
    for (const auto& c : o.checks) {
      if (c.name != "cache_schedule_change") continue;
      std::string rest = c.detail;
      while (!rest.empty()) {
        const size_t cut = std::min(rest.find("; "), rest.find(" | "));
        const std::string line = rest.substr(0, cut);
        std::cout << (line.rfind("step ", 0) == 0 ? "        " : "      ") << line << "\n";
        rest = cut == std::string::npos ? "" : rest.substr(cut + (rest.compare(cut, 3, " | ") == 0 ? 3 : 2));
      }
    }
  }
}

}  // namespace

int cache_diff_command(const std::vector<std::string>& raw_args) {
  const auto specs = cache_diff_option_specs();
  RankLog log;
  CliArgs args;
  std::vector<Scenario> base;
  std::string profile_a, profile_b;
  try {
    args = CliArgs::parse("cache-diff", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text("cache-diff", kHelp, specs);
      return kExitOk;
    }
    if (args.given("ours")) return own_run_mode(args);
    if (!args.given("scenarios") || !args.given("a") || !args.given("b"))
      throw UsageError("glmh cache-diff: --scenarios, --a and --b are required (or --ours, --theirs-steps)");
    for (const char* which : {"a", "b"}) {
      try {
        const CacheProfile p = parse_cache_profile(args.str(which));
        if (!p.enabled) throw CacheConfigError("'none' is no profile to validate; the uncached run is always made");
      } catch (const CacheConfigError& e) {
        throw UsageError(std::string("glmh cache-diff: --") + which + ": " + e.what());
      }
    }
    profile_a = args.str("a");
    profile_b = args.str("b");
    // The scenarios with expect=pass, one per request and layout (the file's cache column aside).
    std::set<std::string> seen;
    for (const auto& s : filter_scenarios(read_scenario_file(args.str("scenarios"), {args.flag("images-anywhere")}), args.str("filter"))) {
      if (s.expect != "pass" || !seen.insert(uncached_key(s)).second) continue;
      for (const auto& profile : {profile_a, profile_b}) {
        try {
          parse_cache_profile(profile).for_steps(s.steps);
        } catch (const CacheConfigError& e) {
          throw UsageError("glmh cache-diff: scenario '" + s.name + "': " + e.what());
        }
      }
      base.push_back(s);
    }
    if (base.empty()) throw UsageError("glmh cache-diff: no scenario with expect=pass is selected");
    if (args.integer("repeat", 0) > 0) args.integer("warmup", 0);
  } catch (const std::invalid_argument& e) {
    log.error(e.what());
    return kExitUsage;
  }

  std::vector<Scenario> all;
  for (const auto& s : base) {
    all.push_back(with_cache(s, "none", ".uncached"));
    all.push_back(with_cache(s, profile_a, ".a"));
    all.push_back(with_cache(s, profile_b, ".b"));
  }
  const std::string run_id = make_run_id();
  const std::string out = args.given("out") ? args.str("out") : "reports/" + run_id;
  std::cout << "# glmh cache-diff " << args.str("scenarios") << ": A = " << profile_a << ", B = " << profile_b << "; "
            << base.size() << " scenario(s) x 3 runs, reports in " << out << std::endl;
  ScenarioRunOptions options;
  StagedDirectory staged(out);  // docs/reliability.md#crash-safe-outputs
  options.out = staged.path();
  options.recorded_out = out;
  options.limit = std::chrono::seconds(args.integer("scenario-timeout", 1));
  if (args.integer("repeat", 0) > 0)
    options.extra_run_args = {"--warmup", args.str("warmup"), "--repeat", args.str("repeat")};
  std::vector<ScenarioOutcome> outcomes = run_scenarios(all, options);
  CacheDiffGates gates;
  gates.require_same_schedule = args.flag("require-same-schedule");
  try {
    for (auto& o : outcomes) read_bench_figures(o);
    add_cache_figures(outcomes);
    for (size_t i = 0; i + 2 < outcomes.size(); i += 3) compare_cache_profiles(outcomes[i], outcomes[i + 1], outcomes[i + 2], gates);
  } catch (const std::exception& e) {
    log.error("glmh cache-diff: ", e.what());
    return kExitInfrastructure;
  }
  const ReportContext context = scenario_report_context("glmh cache-diff " + args.str("scenarios") + ": A = " + profile_a +
                                                            ", B = " + profile_b,
                                                        run_id, args.str("scenarios"), outcomes);
  write_staged_reports(staged, context, outcomes);
  print_rows(outcomes);
  const auto reasons = invalid_reasons(outcomes);
  std::cout << "Result is : " << (reasons.empty() ? "VALID" : "INVALID") << "; " << out << "/summary.md" << std::endl;
  return outcomes_exit_code(outcomes);
}

}  // namespace glmh
