#include "harness/commands/gate_command.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "harness/cli/cli_args.h"
#include "harness/io/csv_reader.h"
#include "harness/reports/report_writers.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/runtime/rank_log.h"

namespace glmh {

namespace {

double parse_number(const std::string& text, const std::string& where, const std::string& what) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw GateInputError(where + ": " + what + ": expected a number, got '" + text + "'");
}

// Seconds of some kind (stages, end to end, steps, collectives): noise on a shared CPU.
bool is_wall_time(const std::string& metric) {
  for (const char* not_time : {"cache_", "psnr", "ssim", "speedup", "efficiency", "amdahl", "peak_memory", "iterations"})
    if (metric.rfind(not_time, 0) == 0) return false;
  return true;
}

}  // namespace

GateDirection default_direction(const std::string& metric) {
  // Speedups, efficiencies, image similarity and cache hit rates should not fall; times and counts
  // (changed cache decisions) should not grow.
  for (const char* higher : {"speedup", "efficiency", "psnr", "ssim", "cache_hit_rate", "cache_ideal_speedup"})
    if (metric.rfind(higher, 0) == 0) return GateDirection::HigherIsBetter;
  return GateDirection::LowerIsBetter;
}

std::pair<double, double> default_tolerance(const std::string& metric) {
  // A timed metric is NAME or NAME:STATISTIC (end_to_end:p50).
  const std::string name = metric.substr(0, metric.find(':'));
  if (name == "run_total" || name == "end_to_end") return {0.10, 0.5};
  if (metric.find("denoise_step") != std::string::npos) return {0.10, 0.002};
  if (default_direction(metric) == GateDirection::HigherIsBetter) return {0.10, 0.0};
  return {0.25, 0.05};
}

double gate_bound(const BaselineRow& b) {
  if (b.direction == GateDirection::LowerIsBetter) return std::max(b.baseline * (1 + b.rel), b.baseline + b.abs);
  return std::min(b.baseline * (1 - b.rel), b.baseline - b.abs);
}

std::vector<BaselineRow> read_baseline(const std::string& path) {
  std::vector<BaselineRow> rows;
  try {
    io::CSVReader<6, io::trim_chars<' ', '\t'>, io::double_quote_escape<',', '"'>, io::throw_on_overflow,
                  io::single_and_empty_line_comment<'#'>>
        in(path);
    in.read_header(io::ignore_missing_column, "scenario", "metric", "baseline", "rel", "abs", "direction");
    std::string scenario, metric, baseline, rel, abs, direction;
    while (in.read_row(scenario, metric, baseline, rel, abs, direction)) {
      const std::string where = path + ":" + std::to_string(in.get_file_line());
      if (scenario.empty() || metric.empty()) throw GateInputError(where + ": scenario and metric are required");
      BaselineRow b;
      b.scenario = scenario;
      b.metric = metric;
      b.line = int(in.get_file_line());
      b.baseline = parse_number(baseline, where, "baseline");
      const auto [drel, dabs] = default_tolerance(metric);
      b.rel = rel.empty() ? drel : parse_number(rel, where, "rel");
      b.abs = abs.empty() ? dabs : parse_number(abs, where, "abs");
      if (b.rel < 0 || b.abs < 0) throw GateInputError(where + ": rel and abs must be >= 0");
      if (direction.empty()) b.direction = default_direction(metric);
      else if (direction == "lower") b.direction = GateDirection::LowerIsBetter;
      else if (direction == "higher") b.direction = GateDirection::HigherIsBetter;
      else throw GateInputError(where + ": direction: expected lower or higher, got '" + direction + "'");
      rows.push_back(b);
      scenario.clear(), metric.clear(), baseline.clear(), rel.clear(), abs.clear(), direction.clear();
    }
  } catch (const io::error::base& e) {
    throw GateInputError(path + ": " + e.what());
  }
  return rows;
}

GateInputs read_gate_results(const std::string& path) {
  GateInputs r;
  std::vector<ScenarioOutcome> outcomes;
  try {
    outcomes = read_results_csv(path);
  } catch (const std::runtime_error& e) {
    throw GateInputError(e.what());
  }
  for (const auto& o : outcomes) {
    const std::string& scenario = o.scenario.name;
    if (!o.passed) r.failed_scenarios.emplace_back(scenario, o.reason);
    r.devices[scenario] = o.scenario.device;
    r.metrics[{scenario, "run_total"}] = o.seconds;
    for (const auto& [stage, seconds] : o.stage_seconds) r.metrics[{scenario, stage}] = seconds;
    for (const auto& [name, value] : o.performance) r.metrics[{scenario, name}] = value;
  }
  return r;
}

std::vector<GateVerdict> apply_gate(const GateInputs& results, const std::vector<BaselineRow>& baseline) {
  std::vector<GateVerdict> verdicts;
  for (const auto& [scenario, why] : results.failed_scenarios)
    verdicts.push_back({scenario, "correctness", NAN, NAN, NAN, false, "scenario failed: " + why});
  for (const auto& b : baseline) {
    GateVerdict v{b.scenario, b.metric, NAN, b.baseline, gate_bound(b), true, ""};
    const auto device = results.devices.find(b.scenario);
    const bool on_cpu = device != results.devices.end() && device->second == "cpu";
    const auto it = results.metrics.find({b.scenario, b.metric});
    if (it == results.metrics.end()) {
      v.passed = false;
      v.detail = "missing from the results";
    } else if (on_cpu && is_wall_time(b.metric)) {
      v.value = it->second;
      v.detail = "not gated: absolute times on the CPU are noise (gate its speedups)";
    } else {
      v.value = it->second;
      v.passed = b.direction == GateDirection::LowerIsBetter ? v.value <= v.bound : v.value >= v.bound;
      std::ostringstream d;
      d << std::setprecision(4) << (b.direction == GateDirection::LowerIsBetter ? "<= " : ">= ") << v.bound
        << " (baseline " << b.baseline << ", rel " << b.rel << ", abs " << b.abs << ")";
      v.detail = d.str();
    }
    verdicts.push_back(v);
  }
  return verdicts;
}

int gate_command(const std::vector<std::string>& raw_args) {
  const std::vector<OptionSpec> specs = {
      {"results", "FILE", "results.csv of glmh validate or glmh bench", ""},
      {"baseline", "FILE", "baseline CSV: scenario,metric,baseline[,rel,abs,direction]", ""},
      {"help", "", "show this help", ""},
  };
  RankLog log;
  try {
    const CliArgs args = CliArgs::parse("gate", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "gate",
          "Fails (exit 1) when a scenario failed its checks, when a latency exceeds\n"
          "max(baseline x (1 + rel), baseline + abs), or a speedup or efficiency falls below\n"
          "min(baseline x (1 - rel), baseline - abs). Absolute times of CPU scenarios are not\n"
          "gated (noise); gate their speedups, measured within one run.",
          specs);
      return kExitOk;
    }
    if (!args.given("results") || !args.given("baseline")) throw UsageError("glmh gate: --results and --baseline are required");
    const auto verdicts = apply_gate(read_gate_results(args.str("results")), read_baseline(args.str("baseline")));
    std::cout << "# glmh gate " << args.str("results") << " against " << args.str("baseline") << "\n"
              << std::left << std::setw(28) << "# scenario" << std::setw(32) << "metric" << std::setw(12) << "value"
              << std::setw(8) << "verdict"
              << "bound\n";
    int failed = 0;
    for (const auto& v : verdicts) {
      failed += v.passed ? 0 : 1;
      std::ostringstream value;
      value << std::setprecision(4) << v.value;
      std::cout << "  " << std::setw(26) << v.scenario << std::setw(32) << v.metric << std::setw(12)
                << (std::isnan(v.value) ? "-" : value.str()) << std::setw(8) << (v.passed ? "ok" : "FAIL") << v.detail
                << "\n";
    }
    std::cout << "# Gate : " << (failed == 0 ? "OK" : "FAILED (" + std::to_string(failed) + ")") << std::endl;
    return failed == 0 ? kExitOk : kExitCheckFailed;
  } catch (const std::invalid_argument& e) {  // UsageError, GateInputError
    log.error(e.what());
    return kExitUsage;
  }
}

}  // namespace glmh
