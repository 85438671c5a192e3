#include "scenario_outcome.h"

#include "csv_reader.h"

#include <stdexcept>

namespace glmh {

namespace {

double number_of(const std::string& text) {
  if (text.empty()) return 0;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return 0;
  }
}

CheckStatus status_of(const std::string& text, const std::string& where) {
  if (text == "pass") return CheckStatus::Pass;
  if (text == "fail") return CheckStatus::Fail;
  if (text == "na") return CheckStatus::NotApplicable;
  throw std::runtime_error(where + ": status '" + text + "' is not pass, fail or na");
}

}  // namespace

void read_run_results(const std::string& path, std::vector<CheckResult>& checks,
                      std::vector<std::pair<std::string, double>>& stage_seconds) {
  try {
    io::CSVReader<5, io::trim_chars<>, io::double_quote_escape<',', '"'>> in(path);
    in.read_header(io::ignore_no_column, "check", "status", "value", "threshold", "detail");
    std::string name, status, value, threshold, detail;
    while (in.read_row(name, status, value, threshold, detail)) {
      const std::string where = path + ":" + std::to_string(in.get_file_line());
      const std::string stage_prefix = "stage_seconds:";
      if (name.rfind(stage_prefix, 0) == 0) {
        stage_seconds.emplace_back(name.substr(stage_prefix.size()), number_of(value));
        continue;
      }
      checks.push_back({name, status_of(status, where), number_of(value), number_of(threshold), detail});
    }
  } catch (const io::error::base& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace glmh
