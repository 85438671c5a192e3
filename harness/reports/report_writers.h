// The four report files of a validate (or bench) run, each written through a temporary name:
//   results.csv  one row per scenario x check, per scenario verdict and per timed stage
//   summary.md   the header facts, the scenarios with their verdicts, failed checks, stage times,
//                and "Result is : VALID | INVALID" with the reasons
//   report.html  self-contained (inline SVG): verdict table, stage breakdown per scenario
//   junit.xml    one testcase per scenario x check (failed checks, and unmet expectations, fail)
#pragma once

#include <string>
#include <vector>

#include "scenario_outcome.h"

namespace glmh {

std::string results_csv_text(const std::vector<ScenarioOutcome>& outcomes);
std::string summary_markdown(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);
std::string junit_xml(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);
std::string report_html(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);

// All four into `dir` (created if needed), and outcomes.json, what they are made from.
void write_reports(const std::string& dir, const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);

// Why the whole run is INVALID: one line per failed scenario ("" reasons: VALID).
std::vector<std::string> invalid_reasons(const std::vector<ScenarioOutcome>& outcomes);

}  // namespace glmh
