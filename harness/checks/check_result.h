// One check's outcome, as results.csv records it: check, status (pass / fail / na), value,
// threshold, detail.
#pragma once

#include <string>
#include <vector>

namespace glmh {

enum class CheckStatus { Pass, Fail, NotApplicable };

inline const char* status_name(CheckStatus s) {
  return s == CheckStatus::Pass ? "pass" : s == CheckStatus::Fail ? "fail" : "na";
}

struct CheckResult {
  std::string name;
  CheckStatus status = CheckStatus::NotApplicable;
  double value = 0;
  double threshold = 0;
  std::string detail;

  bool failed() const { return status == CheckStatus::Fail; }
  static CheckResult pass_or_fail(std::string name, bool passed, double value, double threshold, std::string detail) {
    return {std::move(name), passed ? CheckStatus::Pass : CheckStatus::Fail, value, threshold, std::move(detail)};
  }
  static CheckResult not_applicable(std::string name, std::string why) {
    return {std::move(name), CheckStatus::NotApplicable, 0, 0, std::move(why)};
  }
};

inline bool any_failed(const std::vector<CheckResult>& checks) {
  for (const auto& c : checks)
    if (c.failed()) return true;
  return false;
}

}  // namespace glmh
