#include <algorithm>
#include <iomanip>
#include <sstream>

#include "harness/io/report_files.h"
#include "harness/reports/performance_tables.h"
#include "harness/reports/report_writers.h"

namespace glmh {

std::vector<std::string> invalid_reasons(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<std::string> reasons;
  for (const auto& o : outcomes)
    if (!o.passed) reasons.push_back(o.scenario.name + ": " + o.reason);
  return reasons;
}

std::string summary_markdown(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes) {
  std::ostringstream md;
  md << "# " << context.title << " — run " << context.run_id << "\n\n| | |\n|---|---|\n";
  for (const auto& [key, value] : context.facts) md << "| " << key << " | " << md_cell(value) << " |\n";
  int passed = 0;
  for (const auto& o : outcomes) passed += o.passed ? 1 : 0;
  md << "\n## Scenarios (" << passed << " of " << outcomes.size() << " as expected)\n\n"
     << "| scenario | layout | AR | fault | expect | verdict | why | seconds |\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& o : outcomes) {
    const Scenario& s = o.scenario;
    md << "| " << s.name << " | " << s.layout_text() << " | " << s.ar_strategy << " | " << s.fault << " | " << s.expect
       << " | " << (o.passed ? "pass" : "**FAIL**") << " | " << md_cell(o.reason) << " | " << std::fixed
       << std::setprecision(1) << o.seconds << " |\n";
  }
  // Where each single-rank reference came from: one the binary under test computed shares its bugs.
  md << "\n## References\n\n| scenario | single-rank reference |\n|---|---|\n";
  for (const auto& o : outcomes)
    md << "| " << o.scenario.name << " | " << md_cell(o.reference_origin.empty() ? "none" : o.reference_origin) << " |\n";
  // Every check of every scenario, failures first.
  md << "\n## Checks\n\n| scenario | check | status | value | threshold | detail |\n|---|---|---|---|---|---|\n";
  for (const bool failures : {true, false})
    for (const auto& o : outcomes)
      for (const auto& c : o.checks)
        if (c.failed() == failures)
          md << "| " << o.scenario.name << " | " << c.name << " | " << (c.failed() ? "**fail**" : status_name(c.status))
             << " | " << std::setprecision(3) << std::defaultfloat << c.value << " | " << c.threshold << " | "
             << md_cell(c.detail) << " |\n";
  // Stage latencies of one run each (glmh bench repeats and gives percentiles).
  std::vector<std::string> stages;
  for (const auto& o : outcomes)
    for (const auto& [stage, seconds] : o.stage_seconds)
      if (std::find(stages.begin(), stages.end(), stage) == stages.end()) stages.push_back(stage);
  md << "\n## Stage latencies\n\nWall clock of one run per scenario, device-synchronised, max over ranks; "
        "`glmh bench` repeats runs for percentiles.\n\n| scenario |";
  for (const auto& st : stages) md << " " << st << " (s) |";
  md << "\n|---|";
  for (size_t i = 0; i < stages.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& o : outcomes) {
    md << "| " << o.scenario.name << " |";
    for (const auto& st : stages) {
      std::string cell = " – |";
      for (const auto& [stage, seconds] : o.stage_seconds)
        if (stage == st) {
          std::ostringstream v;
          v << " " << std::fixed << std::setprecision(4) << seconds << " |";
          cell = v.str();
        }
      md << cell;
    }
    md << "\n";
  }
  // Timed iterations (glmh bench): percentiles, speedups over the single-rank run, Amdahl bound.
  const auto tables = performance_tables(outcomes);
  if (!tables.empty()) {
    md << "\n## Performance\n";
    for (const auto& table : tables) {
      md << "\n### " << table.title << "\n\n";
      if (!table.note.empty()) md << table.note << "\n\n";
      md << "|";
      for (const auto& heading : table.headings) md << " " << md_cell(heading) << " |";
      md << "\n|";
      for (size_t i = 0; i < table.headings.size(); ++i) md << "---|";
      md << "\n";
      for (const auto& row : table.rows) {
        md << "|";
        for (const auto& c : row) md << " " << md_cell(c) << " |";
        md << "\n";
      }
    }
  }
  const auto reasons = invalid_reasons(outcomes);
  md << "\nResult is : " << (reasons.empty() ? "VALID" : "INVALID") << "\n";
  for (const auto& r : reasons) md << "- " << md_cell(r) << "\n";
  return md.str();
}

}  // namespace glmh
