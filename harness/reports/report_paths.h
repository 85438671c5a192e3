// Finding a run's files again when a report is rendered. A report records each scenario's run and
// reference directory as given when it was written (absolute, or relative to the directory glmh
// ran in) and the report directory itself as given (ReportContext::written_to). `glmh report`
// may render it later, from another directory or after the report directory moved, and a staged
// report is written before its directory has its final name, so a recorded directory DIR is
// tried, in order:
//   1. when DIR lies inside `written_to`, at the same place inside `report_dir`, where the report
//      is read from now (a glmh run's own directory, and validate's scenarios/ and references/);
//   2. as given (absolute, or relative to the current directory);
//   3. relative to `report_dir`.
#pragma once

#include <string>

namespace glmh {

// DIR/file at the first of those places that holds it; "" when none does (or DIR is "").
std::string find_run_file(const std::string& dir, const std::string& file, const std::string& written_to,
                          const std::string& report_dir);

}  // namespace glmh
