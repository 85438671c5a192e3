// What one scenario of a validate run produced: its checks (from its run's results.csv), its stage
// times, and the scenario's verdict (a pass scenario passes when every check passes; a detect
// scenario passes only when its fault was caught: exit 1 with a failed check).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "checks/check_result.h"
#include "scenarios/scenario.h"

namespace glmh {

struct ScenarioOutcome {
  Scenario scenario;
  bool passed = false;
  std::string reason;         // one line: why it passed or failed
  int exit_code = -1;
  double seconds = 0;         // wall clock of the whole run (launch, load, stages, checks)
  std::string run_dir;        // the scenario's glmh run --out
  std::vector<CheckResult> checks;
  std::vector<std::pair<std::string, double>> stage_seconds;  // stage -> seconds, max over ranks
};

// The checks and stage times of a glmh run's results.csv; throws std::runtime_error naming the
// file and line when it is malformed.
void read_run_results(const std::string& path, std::vector<CheckResult>& checks,
                      std::vector<std::pair<std::string, double>>& stage_seconds);

// Facts for every report header.
struct ReportContext {
  std::string title;          // "glmh validate scenarios/ci.csv"
  std::string run_id;
  std::string scenario_file;
  std::map<std::string, std::string> facts;  // revision, libtorch, host, devices, backend, NCCL env, ...
};

}  // namespace glmh
