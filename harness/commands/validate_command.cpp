#include "harness/commands/validate_command.h"

#include <iostream>

#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "harness/launch/local_launcher.h"
#include "pipeline/runtime/rank_log.h"
#include "harness/io/staged_directory.h"
#include "harness/reports/report_writers.h"
#include "harness/scenarios/scenario_runner.h"
#include "harness/scenarios/scenario_file.h"

namespace glmh {

namespace {

std::vector<OptionSpec> validate_option_specs() {
  return {
      {"scenarios", "FILE", "the scenario file (scenarios/README.md)", ""},
      {"images-anywhere", "", "allow scenario images outside the scenario file's folder", ""},
      {"golden", "DIR", "golden store: single-rank outputs per reference key; a request without a golden there, or "
                        "every request with none, has its single-rank run computed first", "golden/scenarios"},
      {"filter", "REGEX", "only the scenarios whose name matches", ""},
      {"list", "", "list the selected scenarios and exit", ""},
      {"out", "DIR", "report directory (default: reports/<run-id>)", ""},
      {"scenario-timeout", "SEC", "a scenario (its single-rank reference included) is stopped after this long", "1800"},
      {"help", "", "show this help", ""},
  };
}

}  // namespace

int validate_command(const std::vector<std::string>& raw_args) {
  const auto specs = validate_option_specs();
  RankLog log;
  CliArgs args;
  std::vector<Scenario> selected;
  try {
    args = CliArgs::parse("validate", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "validate",
          "Runs every scenario of a scenario file with glmh run and all its checks, each against\n"
          "the single-rank run of the same request (its golden in --golden, else computed first by\n"
          "this binary, once per request; the reports say which). A scenario with expect=pass passes when every check passes; one with\n"
          "expect=detect only when its fault was detected. Writes results.csv, summary.md,\n"
          "report.html and junit.xml into --out.",
          specs);
      return kExitOk;
    }
    if (!args.given("scenarios")) throw UsageError("glmh validate: --scenarios is required");
    selected = filter_scenarios(read_scenario_file(args.str("scenarios"), {args.flag("images-anywhere")}), args.str("filter"));
    if (selected.empty()) throw UsageError("glmh validate: no scenario matches --filter '" + args.str("filter") + "'");
    args.integer("scenario-timeout", 1);
  } catch (const std::invalid_argument& e) {  // UsageError, ScenarioFileError
    log.error(e.what());
    return kExitUsage;
  }
  if (args.flag("list")) {
    for (const auto& s : selected)
      std::cout << s.name << "  " << s.model << " " << s.task << " " << s.height << "x" << s.width << ", "
                << s.layout_text() << ", ar " << s.ar_strategy << ", fault " << s.fault << ", expect " << s.expect
                << "\n";
    return kExitOk;
  }

  const std::string run_id = make_run_id();
  const std::string out = args.given("out") ? args.str("out") : "reports/" + run_id;
  const auto limit = std::chrono::seconds(args.integer("scenario-timeout", 1));
  std::cout << "# glmh validate " << args.str("scenarios") << ": " << selected.size() << " scenario(s), reports in "
            << out << std::endl;

  ScenarioRunOptions options;
  options.golden = args.str("golden");
  StagedDirectory staged(out);  // docs/reliability.md#crash-safe-outputs
  options.out = staged.path();
  options.recorded_out = out;
  options.limit = limit;
  const std::vector<ScenarioOutcome> outcomes = run_scenarios(selected, options);

  const ReportContext context =
      scenario_report_context("glmh validate " + args.str("scenarios"), run_id, args.str("scenarios"), outcomes);
  write_staged_reports(staged, context, outcomes);
  const auto reasons = invalid_reasons(outcomes);
  std::cout << "Result is : " << (reasons.empty() ? "VALID" : "INVALID") << " (" << outcomes.size() - reasons.size()
            << " of " << outcomes.size() << " scenarios as expected); " << out << "/summary.md" << std::endl;
  return outcomes_exit_code(outcomes);
}

}  // namespace glmh
