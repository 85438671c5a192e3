#include "harness/reports/report_paths.h"

#include <vector>

#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

// "./a/b/" -> "a/b": the spelling two recorded paths are compared in.
std::string plain_path(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  while (path.rfind("./", 0) == 0 && path.size() > 2) path.erase(0, 2);
  return path;
}

}  // namespace

std::string find_run_file(const std::string& dir, const std::string& file, const std::string& written_to,
                          const std::string& report_dir) {
  if (dir.empty()) return "";
  const std::string recorded = plain_path(dir), report_then = plain_path(written_to);
  // Inside the report first: a directory recorded under a name that now holds another run's
  // files (an older run's, while a staged report is written) must not be read.
  std::vector<std::string> candidates;
  if (!report_dir.empty() && !report_then.empty()) {
    if (recorded == report_then) candidates.push_back(report_dir);
    else if (recorded.rfind(report_then + "/", 0) == 0) candidates.push_back(report_dir + recorded.substr(report_then.size()));
  }
  candidates.push_back(recorded);
  if (!report_dir.empty() && recorded.front() != '/') candidates.push_back(report_dir + "/" + recorded);
  for (const auto& candidate : candidates)
    if (posix_fs::exists(candidate + "/" + file)) return candidate + "/" + file;
  return "";
}

}  // namespace glmh
