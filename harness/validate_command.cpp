#include "validate_command.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "child_process.h"
#include "cli_args.h"
#include "exit_codes.h"
#include "local_launcher.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_log.h"
#include "report_files.h"
#include "reports/report_writers.h"
#include "scenarios/scenario_file.h"

namespace glmh {

namespace {

std::vector<OptionSpec> validate_option_specs() {
  return {
      {"scenarios", "FILE", "the scenario file (scenarios/README.md)", ""},
      {"golden", "DIR", "golden store: single-rank outputs per reference key (default: computed first)", ""},
      {"filter", "REGEX", "only the scenarios whose name matches", ""},
      {"list", "", "list the selected scenarios and exit", ""},
      {"out", "DIR", "report directory (default: reports/<run-id>)", ""},
      {"scenario-timeout", "SEC", "a scenario (its single-rank reference included) is stopped after this long", "1800"},
      {"help", "", "show this help", ""},
  };
}

// The single-rank run a scenario is compared with: the same request, one rank, no fault.
Scenario reference_scenario(const Scenario& s) {
  Scenario r = s;
  r.world_size = r.tp = r.sp = r.cfg = 1;
  r.ulysses = r.ring = 0;
  r.fault = "none";
  r.expect = "pass";
  r.ar_strategy = "main-rank";
  r.latent_tolerance = r.min_cosine = r.min_psnr = std::nullopt;
  return r;
}

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
  } else if (o.scenario.expect == "pass") {
    o.passed = run.exit_code == kExitOk && failed == 0;
    o.reason = o.passed ? "every check passed"
               : failed > 0 ? std::to_string(failed) + " check(s) failed; " + first_failed
                            : "glmh run exited " + std::to_string(run.exit_code) + " (see its log)";
  } else {
    o.passed = run.exit_code == kExitCheckFailed && failed > 0;
    o.reason = o.passed ? "fault " + o.scenario.fault + " detected by " + first_failed
               : run.exit_code == kExitOk ? "fault " + o.scenario.fault + " was NOT detected: every check passed"
                                          : "glmh run exited " + std::to_string(run.exit_code) + " (see its log)";
  }
}

ReportContext report_context(const std::string& run_id, const std::string& scenario_file,
                             const std::vector<ScenarioOutcome>& outcomes) {
  ReportContext c;
  c.title = "glmh validate " + scenario_file;
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
  auto join = [](const std::set<std::string>& s) {
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string("none ran") : out;
  };
  c.facts["devices"] = join(devices);
  c.facts["backends"] = join(backends);
  c.facts["world sizes"] = join(worlds);
  return c;
}

}  // namespace

int validate_command(const std::vector<std::string>& raw_args) {
  const auto specs = validate_option_specs();
  RankLog log;
  CliArgs args;
  std::vector<Scenario> selected;
  try {
    args = CliArgs::parse("validate", specs, raw_args);
    if (args.flag("help")) {
      std::cout << CliArgs::help_text(
          "validate",
          "Runs every scenario of a scenario file with glmh run and all its checks, each against\n"
          "the single-rank run of the same request (from --golden, or computed first, once per\n"
          "request). A scenario with expect=pass passes when every check passes; one with\n"
          "expect=detect only when its fault was detected. Writes results.csv, summary.md,\n"
          "report.html and junit.xml into --out.",
          specs);
      return kExitOk;
    }
    if (!args.given("scenarios")) throw UsageError("glmh validate: --scenarios is required");
    selected = filter_scenarios(read_scenario_file(args.str("scenarios")), args.str("filter"));
    if (selected.empty()) throw UsageError("glmh validate: no scenario matches --filter '" + args.str("filter") + "'");
    args.integer("scenario-timeout", 1);
  } catch (const std::invalid_argument& e) {  // UsageError, ScenarioFileError
    log.error(e.what());
    return kExitUsage;
  }
  if (args.flag("list")) {
    for (const auto& s : selected)
      std::cout << s.name << "  " << s.model << " " << s.task << " " << s.height << "x" << s.width << ", "
                << s.layout_text() << ", ar " << s.ar_strategy << ", fault " << s.fault << ", expect " << s.expect
                << "\n";
    return kExitOk;
  }

  const std::string run_id = make_run_id();
  const std::string out = args.given("out") ? args.str("out") : "reports/" + run_id;
  const auto limit = std::chrono::seconds(args.integer("scenario-timeout", 1));
  posix_fs::make_directories(out + "/scenarios");
  posix_fs::make_directories(out + "/references");
  std::cout << "# glmh validate " << args.str("scenarios") << ": " << selected.size() << " scenario(s), reports in "
            << out << std::endl;

  std::map<std::string, std::string> references;  // key -> directory, or "" when its run failed
  std::vector<ScenarioOutcome> outcomes;
  Progress progress(selected.size());
  bool broken = false;
  for (size_t i = 0; i < selected.size(); ++i) {
    const Scenario& s = selected[i];
    ScenarioOutcome o;
    o.scenario = s;
    o.run_dir = out + "/scenarios/" + s.name;
    const std::string key = s.reference_key();
    // The single-rank reference, once per request: from the golden store, else computed.
    if (!references.count(key)) {
      const std::string golden = args.str("golden") + "/" + key;
      if (args.given("golden") && posix_fs::exists(golden + "/latents.safetensors")) {
        references[key] = golden;
      } else {
        const std::string dir = out + "/references/" + key;
        progress.running(i, s.name + ": single-rank reference");
        std::vector<std::string> ref_args = {"run"};
        const auto a = reference_scenario(s).run_arguments();
        ref_args.insert(ref_args.end(), a.begin(), a.end());
        ref_args.insert(ref_args.end(), {"--out", dir});
        const ChildResult r = run_glmh_child(ref_args, dir + ".log", limit);
        references[key] = r.exit_code == kExitOk ? dir : "";
      }
    }
    if (references[key].empty()) {
      o.reason = "its single-rank reference run failed (see references/" + key + ".log)";
      broken = true;
    } else {
      progress.running(i, s.name);
      std::vector<std::string> run_args = {"run"};
      const auto a = s.run_arguments();
      run_args.insert(run_args.end(), a.begin(), a.end());
      run_args.insert(run_args.end(), {"--reference", references[key], "--out", o.run_dir});
      const ChildResult run = run_glmh_child(run_args, o.run_dir + ".log", limit);
      try {
        if (posix_fs::exists(o.run_dir + "/results.csv")) read_run_results(o.run_dir + "/results.csv", o.checks, o.stage_seconds);
      } catch (const std::exception& e) {
        o.checks.push_back(CheckResult::pass_or_fail("results_file", false, 0, 0, e.what()));
      }
      judge(o, run);
      if (!o.passed && (run.timed_out || run.exit_code >= kExitInfrastructure)) broken = true;
    }
    progress.done(i, s.name + ": " + (o.passed ? "pass" : "FAIL") + " — " + o.reason + " (" + seconds_text(o.seconds) + ")");
    outcomes.push_back(std::move(o));
  }

  const ReportContext context = report_context(run_id, args.str("scenarios"), outcomes);
  write_reports(out, context, outcomes);
  const auto reasons = invalid_reasons(outcomes);
  std::cout << "Result is : " << (reasons.empty() ? "VALID" : "INVALID") << " (" << outcomes.size() - reasons.size()
            << " of " << outcomes.size() << " scenarios as expected); " << out << "/summary.md" << std::endl;
  if (reasons.empty()) return kExitOk;
  return broken ? kExitInfrastructure : kExitCheckFailed;
}

}  // namespace glmh
