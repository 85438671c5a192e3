#include "harness/commands/report_command.h"

#include <iostream>

#include "harness/cli/cli_args.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/runtime/rank_log.h"
#include "harness/reports/report_writers.h"

namespace glmh {

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
      std::cout << CliArgs::help_text("report RUN_DIR",
                                      "Writes results.csv, summary.md, report.html and junit.xml of a glmh validate or\n"
                                      "glmh bench run (or a glmh run directory) again, from RUN_DIR/outcomes.json.\n"
                                      "report.html embeds the scenarios' images: each run directory is looked for as\n"
                                      "recorded, then at its place inside RUN_DIR (harness/reports/report_paths.h).",
                                      specs);
      return kExitOk;
    }
    if (positional.size() != 1) throw UsageError("glmh report: expected one RUN_DIR");
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
