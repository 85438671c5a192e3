#include "harness/commands/report_command.h"

#include <iostream>

#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "harness/io/staged_directory.h"
#include "harness/launch/local_launcher.h"
#include "harness/reports/merged_report.h"
#include "pipeline/runtime/rank_log.h"
#include "harness/reports/report_writers.h"

namespace glmh {

namespace {

// Several bench runs' reports as one, in --out (harness/reports/merged_report.h).
int write_merged_report(const std::vector<std::string>& dirs, const CliArgs& args) {
  if (!args.given("out"))
    throw UsageError("glmh report: merging " + std::to_string(dirs.size()) + " runs needs --out DIR");
  std::vector<ReportToMerge> reports;
  for (const auto& dir : dirs) {
    ReportToMerge r;
    r.name = dir;
    read_report_data(dir + "/outcomes.json", r.context, r.outcomes);
    reports.push_back(std::move(r));
  }
  const MergedReport merged = merge_reports(reports, make_run_id());
  StagedDirectory staged(args.str("out"));  // docs/reliability.md#crash-safe-outputs
  ReportContext context = merged.context;
  context.written_to = staged.final_path();
  write_reports(staged.path(), context, merged.outcomes, dirs.front());
  staged.commit();
  const auto reasons = invalid_reasons(merged.outcomes);
  std::cout << "merged " << dirs.size() << " runs; Result is : " << (reasons.empty() ? "VALID" : "INVALID") << "; "
            << args.str("out") << "/summary.md" << std::endl;
  return reasons.empty() ? kExitOk : kExitCheckFailed;
}

}  // namespace

int report_command(const std::vector<std::string>& raw_args) {
  const std::vector<OptionSpec> specs = {
      {"out", "DIR", "where the report files go (default: RUN_DIR itself)", ""},
      {"help", "", "show this help", ""},
  };
  RankLog log;
  try {
    std::vector<std::string> options, positional;
    for (size_t i = 0; i < raw_args.size(); ++i) {
      if (raw_args[i].rfind("--", 0) == 0) {
        options.push_back(raw_args[i]);
        if (raw_args[i] == "--out" && i + 1 < raw_args.size()) options.push_back(raw_args[++i]);
      } else {
        positional.push_back(raw_args[i]);
      }
    }
    const CliArgs args = CliArgs::parse("report", specs, options);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text("report RUN_DIR [RUN_DIR ...]",
                                      "Writes results.csv, summary.md, report.html and junit.xml of a glmh validate or\n"
                                      "glmh bench run (or a glmh run directory) again, from RUN_DIR/outcomes.json.\n"
                                      "report.html embeds the scenarios' images: each run directory is looked for as\n"
                                      "recorded, then at its place inside RUN_DIR (harness/reports/report_paths.h).\n"
                                      "Several RUN_DIRs (glmh bench runs of one build on one machine, e.g. one bench\n"
                                      "split over calls of bounded length) are merged into one report in --out: their\n"
                                      "scenarios together, the speedups computed again over all of them.",
                                      specs);
      return kExitOk;
    }
    if (positional.empty()) throw UsageError("glmh report: expected a RUN_DIR");
    if (positional.size() > 1) return write_merged_report(positional, args);
    ReportContext context;
    std::vector<ScenarioOutcome> outcomes;
    read_report_data(positional[0] + "/outcomes.json", context, outcomes);
    const std::string out = args.given("out") ? args.str("out") : positional[0];
    if (context.written_to.empty()) context.written_to = positional[0];  // outcomes.json from before it was recorded
    write_reports(out, context, outcomes, positional[0]);
    const auto reasons = invalid_reasons(outcomes);
    std::cout << "Result is : " << (reasons.empty() ? "VALID" : "INVALID") << "; " << out << "/summary.md" << std::endl;
    return reasons.empty() ? kExitOk : kExitCheckFailed;
  } catch (const std::exception& e) {
    log.error(e.what());
    return kExitUsage;
  }
}

}  // namespace glmh
