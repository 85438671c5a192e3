#include <iomanip>
#include <sstream>

#include "harness/reports/markup.h"
#include "harness/reports/report_writers.h"

namespace glmh {

std::string junit_xml(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes) {
  // One testcase per scenario x check, plus the scenario's own verdict (its expectation).
  int tests = 0, failures = 0;
  for (const auto& o : outcomes) {
    tests += 1 + int(o.checks.size());
    failures += o.passed ? 0 : 1;
    if (o.scenario.expect == "pass")
      for (const auto& c : o.checks) failures += c.failed() ? 1 : 0;
  }
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"" << escape_markup(context.title) << "\" tests=\""
    << tests << "\" failures=\"" << failures << "\">\n";
  for (const auto& o : outcomes) {
    int suite_failures = o.passed ? 0 : 1;
    if (o.scenario.expect == "pass")
      for (const auto& c : o.checks) suite_failures += c.failed() ? 1 : 0;
    x << "  <testsuite name=\"" << escape_markup(o.scenario.name) << "\" tests=\"" << 1 + o.checks.size()
      << "\" failures=\"" << suite_failures << "\" time=\"" << std::fixed << std::setprecision(3) << o.seconds << "\">\n";
    x << "    <testcase classname=\"" << escape_markup(o.scenario.name) << "\" name=\"expect_" << o.scenario.expect
      << "\" time=\"" << o.seconds << "\">";
    if (!o.passed) x << "<failure message=\"" << escape_markup(o.reason) << "\"/>";
    x << "</testcase>\n";
    for (const auto& c : o.checks) {
      x << "    <testcase classname=\"" << escape_markup(o.scenario.name) << "\" name=\"" << escape_markup(c.name) << "\">";
      // In a detect scenario the fault's failed check is the expected outcome, not a failure.
      if (c.failed() && o.scenario.expect == "pass")
        x << "<failure message=\"" << escape_markup(c.detail) << "\"/>";
      else if (c.status == CheckStatus::NotApplicable)
        x << "<skipped message=\"" << escape_markup(c.detail) << "\"/>";
      else if (c.failed())
        x << "<system-out>" << escape_markup("detected as expected: " + c.detail) << "</system-out>";
      x << "</testcase>\n";
    }
    x << "  </testsuite>\n";
  }
  x << "</testsuites>\n";
  return x.str();
}

}  // namespace glmh
