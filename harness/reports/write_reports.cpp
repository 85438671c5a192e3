#include "pipeline/runtime/posix_fs.h"
#include "harness/io/report_files.h"
#include "harness/io/staged_directory.h"
#include "harness/reports/report_writers.h"

namespace glmh {

void write_reports(const std::string& dir, const ReportContext& given, const std::vector<ScenarioOutcome>& outcomes,
                   const std::string& read_from) {
  ReportContext context = given;
  if (context.written_to.empty()) context.written_to = dir;
  posix_fs::make_directories(dir);
  write_file_atomically(dir + "/results.csv", results_csv_text(outcomes));
  write_file_atomically(dir + "/summary.md", summary_markdown(context, outcomes));
  write_file_atomically(dir + "/report.html", report_html(context, outcomes, read_from.empty() ? dir : read_from));
  write_file_atomically(dir + "/junit.xml", junit_xml(context, outcomes));
  write_file_atomically(dir + "/outcomes.json", report_data_json(context, outcomes));
}

void write_staged_reports(StagedDirectory& staged, ReportContext context, std::vector<ScenarioOutcome> outcomes) {
  for (auto& o : outcomes) {
    o.run_dir = relocated(o.run_dir, staged.path(), staged.final_path());
    o.reference_dir = relocated(o.reference_dir, staged.path(), staged.final_path());
  }
  context.written_to = staged.final_path();
  write_reports(staged.path(), context, outcomes, staged.path());
  staged.commit();
}

}  // namespace glmh
