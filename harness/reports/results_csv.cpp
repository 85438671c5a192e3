#include <sstream>

#include "harness/io/csv_reader.h"
#include "harness/io/report_files.h"
#include "harness/reports/report_writers.h"

namespace glmh {

namespace {

// A figure's kind and what its value is, by its name.
struct FigureKind {
  const char* kind;
  const char* detail;
};

FigureKind figure_kind(const std::string& name) {
  auto starts = [&name](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  if (starts("speedup:")) return {"speedup", "ratio of two runs' times in this invocation"};
  if (starts("efficiency:")) return {"efficiency", "speedup / world size"};
  if (starts("amdahl:")) return {"bound", "Amdahl bound on the end-to-end speedup"};
  if (starts("cache_")) return {"cache", "from the run's DiT cache decisions"};
  if (starts("psnr:") || starts("ssim:")) return {"image", "the run's image against the named run's"};
  if (starts("breakdown:")) return {"breakdown", "per denoise step (seconds), profiled, slowest rank"};
  if (starts("breakdown_vs_single:")) return {"breakdown", "minus the single-rank run's step (seconds)"};
  return {"timing", "timed iterations, max over ranks"};
}

constexpr const char* kStageDetail = "seconds, one run, max over ranks";
constexpr const char* kRunTotal = "run_total";

double number_at(const std::string& text, const std::string& where, const std::string& column) {
  if (text.empty()) return 0;
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw ReportDataError(where + ": " + column + ": expected a number, got '" + text + "'");
}

CheckStatus status_at(const std::string& text, const std::string& where) {
  if (text == "pass") return CheckStatus::Pass;
  if (text == "fail") return CheckStatus::Fail;
  if (text == "na") return CheckStatus::NotApplicable;
  throw ReportDataError(where + ": status '" + text + "' is not pass, fail or na");
}

}  // namespace

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
      csv << s << ",stage," << stage << ",na," << seconds << ",," << csv_cell(kStageDetail) << "\n";
    csv << s << ",timing," << kRunTotal << ",na," << o.seconds << ",,"
        << csv_cell("seconds, whole run incl. launch and loading") << "\n";
    for (const auto& [name, value] : o.performance) {
      const FigureKind k = figure_kind(name);
      csv << s << "," << k.kind << "," << name << ",na," << value << ",," << csv_cell(k.detail) << "\n";
    }
  }
  return csv.str();
}

std::vector<ScenarioOutcome> read_results_csv(const std::string& path) {
  std::vector<ScenarioOutcome> outcomes;
  try {
    io::CSVReader<7, io::trim_chars<' ', '\t'>, io::double_quote_escape<',', '"'>> in(path);
    in.read_header(io::ignore_no_column, "scenario", "kind", "name", "status", "value", "threshold", "detail");
    std::string scenario, kind, name, status, value, threshold, detail;
    while (in.read_row(scenario, kind, name, status, value, threshold, detail)) {
      const std::string where = path + ":" + std::to_string(in.get_file_line());
      if (scenario.empty()) throw ReportDataError(where + ": no scenario name");
      if (outcomes.empty() || outcomes.back().scenario.name != scenario) {
        outcomes.emplace_back();
        outcomes.back().scenario.name = scenario;
        outcomes.back().passed = true;  // until its verdict row says otherwise
      }
      ScenarioOutcome& o = outcomes.back();
      if (kind == "info") {
        if (name == "device") o.scenario.device = detail;
      } else if (kind == "verdict") {
        o.scenario.expect = name;
        o.passed = status_at(status, where) == CheckStatus::Pass;
        o.exit_code = int(number_at(value, where, "value"));
        o.reason = detail;
      } else if (kind == "check") {
        o.checks.push_back({name, status_at(status, where), number_at(value, where, "value"),
                            number_at(threshold, where, "threshold"), detail});
      } else if (kind == "stage") {
        o.stage_seconds.emplace_back(name, number_at(value, where, "value"));
      } else if (kind == "timing" && name == kRunTotal) {
        o.seconds = number_at(value, where, "value");
      } else if (kind == "timing" || kind == "speedup" || kind == "efficiency" || kind == "bound" || kind == "cache" ||
                 kind == "image") {
        o.performance.emplace_back(name, number_at(value, where, "value"));
      } else {
        throw ReportDataError(where + ": unknown kind '" + kind + "'");
      }
    }
  } catch (const io::error::base& e) {
    throw ReportDataError(path + ": " + e.what());
  }
  return outcomes;
}

}  // namespace glmh
