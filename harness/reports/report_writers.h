// The four report files of a validate (or bench) run, each written through a temporary name:
//   results.csv  one row per scenario x check, per scenario verdict and per timed stage
//   summary.md   the header facts, the scenarios with their verdicts, failed checks, stage times,
//                and "Result is : VALID | INVALID" with the reasons
//   report.html  self-contained (inline SVG, images as data URIs): verdict, each scenario's image
//                beside the single-rank image (and their amplified difference where image parity
//                failed), stage breakdown, speedups, performance tables, checks
//   junit.xml    one testcase per scenario x check (failed checks, and unmet expectations, fail)
#pragma once

#include <string>
#include <vector>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

std::string results_csv_text(const std::vector<ScenarioOutcome>& outcomes);
// What results_csv_text wrote, back (scenario name, device and expect; verdict, exit code and
// reason; checks, stage times, run_total and the timed figures). A glmh run's own results.csv is
// the same format with one scenario. Throws std::runtime_error naming the file and line.
std::vector<ScenarioOutcome> read_results_csv(const std::string& path);
std::string summary_markdown(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);
std::string junit_xml(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes);
// `report_dir`: where the report is read from now; the run directories' images are looked for as
// report_paths.h says.
std::string report_html(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes,
                        const std::string& report_dir);

class StagedDirectory;
// The reports of runs made inside `staged` (validate, bench, cache-diff), written into it with
// every directory recorded as it will be named once in place; then the staging is committed.
void write_staged_reports(StagedDirectory& staged, ReportContext context, std::vector<ScenarioOutcome> outcomes);

// All four into `dir` (created if needed), and outcomes.json, what they are made from. The images
// are looked for around `read_from` (glmh report RUN_DIR --out DIR: RUN_DIR), by default `dir`;
// context.written_to, when empty, becomes `dir`.
void write_reports(const std::string& dir, const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes,
                   const std::string& read_from = "");

// Why the whole run is INVALID: one line per failed scenario ("" reasons: VALID).
std::vector<std::string> invalid_reasons(const std::vector<ScenarioOutcome>& outcomes);

}  // namespace glmh
