#include "harness/scenarios/scenario_runner.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "harness/launch/child_process.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/runtime/posix_fs.h"
#include "harness/io/report_files.h"
#include "harness/io/staged_directory.h"
#include "harness/run/run_reference.h"
#include "harness/reports/report_writers.h"

namespace glmh {

Scenario single_rank_request(const Scenario& s) {
  Scenario r = s;
  r.world_size = r.tp = r.sp = r.cfg = 1;
  r.ulysses = r.ring = 0;
  r.fault = "none";
  r.expect = "pass";
  r.ar_strategy = "main-rank";
  r.latent_tolerance = r.min_cosine = r.min_psnr = std::nullopt;
  return r;
}

namespace {

// Prints progress: on a terminal one line updated in place, otherwise plain lines.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(::isatty(STDOUT_FILENO) != 0) {}
  void running(size_t index, const std::string& what) const {
    if (!tty_) return;
    std::cout << "\r\033[K[" << index + 1 << "/" << total_ << "] " << what << " ..." << std::flush;
  }
  void done(size_t index, const std::string& line) const {
    if (tty_) std::cout << "\r\033[K";
    std::cout << "[" << index + 1 << "/" << total_ << "] " << line << std::endl;
  }

 private:
  size_t total_;
  bool tty_;
};

std::string seconds_text(double s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << s << " s";
  return o.str();
}

std::string joined(const std::vector<std::string>& names, const char* separator) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : separator) + n;
  return text.empty() ? "nothing" : text;
}

// Judges a finished scenario run against its expectation.
void judge(ScenarioOutcome& o, const ChildResult& run) {
  o.exit_code = run.exit_code;
  o.seconds = run.seconds;
  int failed = 0;
  std::string first_failed;
  for (const auto& c : o.checks)
    if (c.failed()) {
      if (failed++ == 0) first_failed = c.name + ": " + c.detail;
    }
  if (run.timed_out) {
    o.reason = "stopped after " + seconds_text(run.seconds) + " (scenario timeout)";
  } else if (!o.scenario.expects_detection()) {
    o.passed = run.exit_code == kExitOk && failed == 0;
    o.reason = o.passed ? "every check passed"
               : failed > 0 ? std::to_string(failed) + " check(s) failed; " + first_failed
                            : "glmh run exited " + std::to_string(run.exit_code) + " (see its log)";
  } else {
    // detect:CHECKS: exactly those checks must fail — a check that stopped catching the fault,
    // or one that starts failing too, both show (docs/checks.md#each-check-proves-itself).
    std::vector<std::string> caught;
    for (const auto& c : o.checks)
      if (c.failed() && std::find(caught.begin(), caught.end(), c.name) == caught.end()) caught.push_back(c.name);
    std::sort(caught.begin(), caught.end());
    const std::vector<std::string> wanted = o.scenario.expected_catchers();
    const bool as_named = wanted.empty() || caught == wanted;
    o.passed = run.exit_code == kExitCheckFailed && failed > 0 && as_named;
    o.reason = run.exit_code == kExitOk  ? "fault " + o.scenario.fault + " was NOT detected: every check passed"
               : failed == 0             ? "glmh run exited " + std::to_string(run.exit_code) + " (see its log)"
               : !as_named               ? "fault " + o.scenario.fault + " caught by " + joined(caught, "+") +
                                 ", expected exactly " + joined(wanted, "+") + "; " + first_failed
                                         : "fault " + o.scenario.fault + " caught by " + joined(caught, "+") +
                                               (wanted.empty() ? "" : ", as expected") + "; " + first_failed;
  }
}

}  // namespace

ReportContext scenario_report_context(const std::string& title, const std::string& run_id,
                                      const std::string& scenario_file, const std::vector<ScenarioOutcome>& outcomes) {
  ReportContext c;
  c.title = title;
  c.run_id = run_id;
  c.scenario_file = scenario_file;
  c.facts["glmh revision"] = git_revision();
  c.facts["libtorch"] = torch_version();
  c.facts["host / cpu"] = host_name() + " / " + cpu_model();
  c.facts["NCCL environment"] = nccl_environment();
  std::set<std::string> devices, backends, worlds;
  for (const auto& o : outcomes) {
    worlds.insert(std::to_string(o.scenario.world_size));
    std::ifstream in(o.run_dir + "/run.json");
    if (!in) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(in);
      devices.insert(j.value("device_name", "?"));
      backends.insert(j.value("backend", "?"));
    } catch (const std::exception&) {
    }
  }
  c.facts["devices"] = fact_list(devices);
  c.facts["backends"] = fact_list(backends);
  c.facts["world sizes"] = fact_list(worlds);
  return c;
}

std::vector<ScenarioOutcome> run_scenarios(const std::vector<Scenario>& selected, const ScenarioRunOptions& options) {
  const std::string& out = options.out;
  // The caller puts OUT in place when every run is done, so no child run stages its own directory.
  const std::string recorded_out = options.recorded_out.empty() ? out : options.recorded_out;
  const auto limit = options.limit;
  posix_fs::make_directories(out + "/scenarios");
  posix_fs::make_directories(out + "/references");
  std::map<std::string, std::string> references;  // key -> directory, or "" when its run failed
  std::vector<ScenarioOutcome> outcomes;
  Progress progress(selected.size());
  for (size_t i = 0; i < selected.size(); ++i) {
    const Scenario& s = selected[i];
    ScenarioOutcome o;
    o.scenario = s;
    o.run_dir = out + "/scenarios/" + s.name;
    const std::string key = s.reference_key();
    // The single-rank reference, once per request: from the golden store, else computed.
    if (!references.count(key)) {
      const std::string golden = golden_of(s, options.golden);
      if (!golden.empty()) {
        references[key] = golden;
      } else {
        const std::string dir = out + "/references/" + key;
        progress.running(i, s.name + ": single-rank reference");
        std::vector<std::string> ref_args = {"run"};
        const auto a = single_rank_request(s).run_arguments();
        ref_args.insert(ref_args.end(), a.begin(), a.end());
        ref_args.insert(ref_args.end(), {"--out", dir, "--recorded-out", relocated(dir, out, recorded_out)});
        const ChildResult r = run_glmh_child(ref_args, dir + ".log", limit);
        references[key] = r.exit_code == kExitOk ? dir : "";
      }
    }
    if (references[key].empty()) {
      o.reason = "its single-rank reference run failed (see references/" + key + ".log)";
    } else {
      progress.running(i, s.name);
      std::vector<std::string> run_args = {"run"};
      const auto a = s.run_arguments();
      run_args.insert(run_args.end(), a.begin(), a.end());
      run_args.insert(run_args.end(), options.extra_run_args.begin(), options.extra_run_args.end());
      run_args.insert(run_args.end(), {"--reference", references[key], "--out", o.run_dir, "--recorded-out",
                                       relocated(o.run_dir, out, recorded_out)});
      o.reference_dir = references[key];
      o.reference_origin = reference_origin(o.reference_dir);
      const ChildResult run = run_glmh_child(run_args, o.run_dir + ".log", limit);
      try {
        if (posix_fs::exists(o.run_dir + "/results.csv")) {
          const auto run = read_results_csv(o.run_dir + "/results.csv");
          if (run.size() != 1) throw std::runtime_error(o.run_dir + "/results.csv: expected one run, found " + std::to_string(run.size()));
          o.checks = run[0].checks;
          o.stage_seconds = run[0].stage_seconds;
        }
      } catch (const std::exception& e) {
        o.checks.push_back(CheckResult::pass_or_fail("results_file", false, 0, 0, e.what()));
      }
      judge(o, run);
    }
    progress.done(i, s.name + ": " + (o.passed ? "pass" : "FAIL") + " — " + o.reason + " (" + seconds_text(o.seconds) + ")");
    outcomes.push_back(std::move(o));
  }

  return outcomes;
}

int outcomes_exit_code(const std::vector<ScenarioOutcome>& outcomes) {
  bool failed = false, broken = false;
  for (const auto& o : outcomes) {
    if (o.passed) continue;
    failed = true;
    broken = broken || o.exit_code < 0 || o.exit_code >= kExitInfrastructure;
  }
  return !failed ? kExitOk : broken ? kExitInfrastructure : kExitCheckFailed;
}

}  // namespace glmh
