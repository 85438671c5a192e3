#include <sstream>

#include "report_files.h"
#include "report_writers.h"

namespace glmh {

std::string results_csv_text(const std::vector<ScenarioOutcome>& outcomes) {
  std::ostringstream csv;
  csv << "scenario,kind,name,status,value,threshold,detail\n";
  for (const auto& o : outcomes) {
    const std::string& s = o.scenario.name;
    csv << s << ",info,device,na,,," << o.scenario.device << "\n";
    csv << s << ",verdict," << o.scenario.expect << "," << (o.passed ? "pass" : "fail") << "," << o.exit_code
        << ",," << csv_cell(o.reason) << "\n";
    for (const auto& c : o.checks)
      csv << s << ",check," << c.name << "," << status_name(c.status) << "," << c.value << "," << c.threshold << ","
          << csv_cell(c.detail) << "\n";
    for (const auto& [stage, seconds] : o.stage_seconds)
      csv << s << ",timing," << stage << ",na," << seconds << ",," << "seconds, one run, max over ranks\n";
    csv << s << ",timing,run_total,na," << o.seconds << ",," << "seconds, whole run incl. launch and loading\n";
  }
  return csv.str();
}

}  // namespace glmh
