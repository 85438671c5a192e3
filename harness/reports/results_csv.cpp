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
      csv << s << ",timing," << stage << ",na," << seconds << ",," << csv_cell("seconds, one run, max over ranks") << "\n";
    csv << s << ",timing,run_total,na," << o.seconds << ",," << csv_cell("seconds, whole run incl. launch and loading") << "\n";
    for (const auto& [name, value] : o.performance) {
      const std::string kind = name.rfind("speedup:", 0) == 0      ? "speedup"
                               : name.rfind("efficiency:", 0) == 0 ? "efficiency"
                               : name.rfind("amdahl:", 0) == 0     ? "bound"
                                                                   : "timing";
      csv << s << "," << kind << "," << name << ",na," << value << ",," << csv_cell("timed iterations, max over ranks") << "\n";
    }
  }
  return csv.str();
}

}  // namespace glmh
