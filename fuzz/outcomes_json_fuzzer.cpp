// A report's outcomes.json (harness/reports/scenario_outcome.h), which glmh report and golden
// read back: an accepted file renders into every report format.
#include <stdexcept>

#include "fuzz/fuzz_input.h"
#include "harness/reports/report_writers.h"
#include "harness/reports/scenario_outcome.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  const std::string& path = fuzz::write_input_file(data, size, ".json");
  fuzz::refuse_only_with<std::runtime_error>([&] {
    ReportContext context;
    std::vector<ScenarioOutcome> outcomes;
    read_report_data(path, context, outcomes);
    report_data_json(context, outcomes);
    results_csv_text(outcomes);
    summary_markdown(context, outcomes);
    junit_xml(context, outcomes);
  });
  return 0;
}
