// Running a list of scenarios, each as `glmh run` in a child process against its single-rank
// reference (from a golden store, or computed once per request), and judging each against its
// expectation. Shared by glmh validate (checks only) and glmh bench (checks, then timed
// iterations).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "harness/reports/scenario_outcome.h"
#include "harness/scenarios/scenario.h"

namespace glmh {

struct ScenarioRunOptions {
  std::string golden;                    // golden store; empty: references are computed
  std::string out;                       // OUT/scenarios/<name>/, OUT/references/<key>/
  std::string recorded_out;              // the name OUT gets once in place (empty: OUT itself)
  std::chrono::seconds limit{1800};      // per child run
  std::vector<std::string> extra_run_args;  // e.g. glmh bench's --repeat N
};

// The single-rank run a scenario is compared with: the same request on one rank, no fault.
Scenario single_rank_request(const Scenario& s);

std::vector<ScenarioOutcome> run_scenarios(const std::vector<Scenario>& scenarios, const ScenarioRunOptions& options);

// The facts of a report header, from the outcomes' run.json files.
ReportContext scenario_report_context(const std::string& title, const std::string& run_id,
                                      const std::string& scenario_file, const std::vector<ScenarioOutcome>& outcomes);

// 0 when every scenario met its expectation, 3 when one broke (timeout, exit >= 3), else 1.
int outcomes_exit_code(const std::vector<ScenarioOutcome>& outcomes);

}  // namespace glmh
