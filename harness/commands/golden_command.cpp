#include "harness/commands/golden_command.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <ctime>
#include <fstream>
#include <iostream>
#include <map>

#include "harness/launch/child_process.h"
#include "harness/cli/cli_args.h"
#include "harness/checks/output_comparison.h"
#include "harness/cli/exit_codes.h"
#include "pipeline/runtime/posix_fs.h"
#include "pipeline/runtime/rank_log.h"
#include "harness/io/report_files.h"
#include "harness/io/staged_directory.h"
#include "harness/scenarios/scenario_runner.h"
#include "harness/scenarios/scenario_file.h"

namespace glmh {

namespace {

std::vector<OptionSpec> golden_option_specs() {
  return {
      {"scenarios", "FILE", "the scenario file whose single-rank references are meant", ""},
      {"images-anywhere", "", "allow scenario images outside the scenario file's folder", ""},
      {"filter", "REGEX", "only the scenarios whose name matches", ""},
      {"golden", "DIR", "the golden store", "golden/scenarios"},
      {"timeout", "SEC", "a single-rank run is stopped after this long", "1800"},
      {"help", "", "show this help", ""},
  };
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  return text;
}

// Runs the single-rank request into `dir` (a staging that becomes `recorded_as`) and writes its
// provenance.
bool produce(const Scenario& request, const std::vector<std::string>& users, const std::string& dir,
             const std::string& recorded_as, std::chrono::seconds limit, std::string& error) {
  std::vector<std::string> args = {"run"};
  const auto a = request.run_arguments();
  args.insert(args.end(), a.begin(), a.end());
  args.insert(args.end(), {"--out", dir, "--recorded-out", recorded_as});
  posix_fs::make_directories(dir);
  const ChildResult r = run_glmh_child(args, dir + "/run.log", limit);
  if (r.exit_code != kExitOk) {
    error = "the single-rank run exited " + std::to_string(r.exit_code) + " (" + dir + "/run.log)";
    return false;
  }
  ::unlink((dir + "/run.log").c_str());  // kept only when the run failed
  // A golden is the run's outputs and its provenance; the run's own report is not part of it.
  for (const char* report : {"summary.md", "report.html", "junit.xml", "outcomes.json", "results.csv"})
    ::unlink((dir + "/" + report).c_str());
  nlohmann::json p;
  std::ifstream run_json(dir + "/run.json");
  if (run_json) p["run"] = nlohmann::json::parse(run_json);
  p["reference_key"] = request.reference_key();
  p["glmh_run_arguments"] = a;
  p["scenarios"] = users;
  p["created_utc"] = utc_now();
  p["glmh_revision"] = git_revision();
  p["libtorch"] = torch_version();
  p["seed"] = request.seed;
  p["dtype"] = request.dtype.empty() ? (request.device == "cuda" ? "bf16" : "fp32") : request.dtype;
  p["device"] = request.device;
  write_file_atomically(dir + "/provenance.json", p.dump(2) + "\n");
  return true;
}

}  // namespace

int golden_command(const std::vector<std::string>& raw_args) {
  const auto specs = golden_option_specs();
  RankLog log;
  const std::string summary =
      "  generate  writes the single-rank outputs (prior tokens, latents, image, provenance.json)\n"
      "            of every request the scenarios use that the store lacks; never overwrites\n"
      "  verify    runs them again and compares with the store (exit 1 on any difference\n"
      "            beyond the parity bounds, or a missing golden)\n"
      "  update    replaces them, atomically, keeping the previous version as KEY.previous-TIME\n";
  if (raw_args.empty() || raw_args[0] == "--help" || raw_args[0] == "-h") {
    std::cout << CliArgs::help_text("golden generate|verify|update", summary, specs);
    return raw_args.empty() ? kExitUsage : kExitOk;
  }
  const std::string action = raw_args[0];
  if (action != "generate" && action != "verify" && action != "update") {
    log.error("glmh golden: expected generate, verify or update, got '", action, "'");
    return kExitUsage;
  }
  CliArgs args;
  std::map<std::string, std::pair<Scenario, std::vector<std::string>>> requests;  // key -> request, users
  try {
    args = CliArgs::parse("golden " + action, specs, {raw_args.begin() + 1, raw_args.end()});
    if (args.flag("help")) {
      std::cout << CliArgs::help_text("golden " + action, summary, specs);
      return kExitOk;
    }
    if (!args.given("scenarios")) throw UsageError("glmh golden: --scenarios is required");
    for (const auto& s : filter_scenarios(read_scenario_file(args.str("scenarios"), {args.flag("images-anywhere")}), args.str("filter"))) {
      auto& entry = requests[s.reference_key()];
      if (entry.second.empty()) entry.first = single_rank_request(s);
      entry.second.push_back(s.name);
    }
    if (requests.empty()) throw UsageError("glmh golden: no scenario matches --filter '" + args.str("filter") + "'");
  } catch (const std::invalid_argument& e) {
    log.error(e.what());
    return kExitUsage;
  }
  const std::string store = args.str("golden");
  const auto limit = std::chrono::seconds(args.integer("timeout", 1));
  posix_fs::make_directories(store);
  int failures = 0;
  for (const auto& [key, entry] : requests) {
    const auto& [request, users] = entry;
    const std::string dir = store + "/" + key;
    if (!request.golden_portable()) {
      std::cout << key << ": no golden: bf16 on the CPU rounds differently from CPU to CPU; its reference is computed "
                << "where the run is\n";
      continue;
    }
    if (action == "generate" && posix_fs::exists(dir)) {
      std::cout << key << ": exists, left as it is (glmh golden update replaces it)\n";
      continue;
    }
    if (action == "verify" && !posix_fs::exists(dir + "/latents.safetensors")) {
      ++failures;
      std::cout << key << ": FAILED: no golden (glmh golden generate writes it)\n";
      continue;
    }
    // The single-rank run, into a staging next to the golden: the store holds the old golden or
    // the new one whenever this is killed.
    StagedDirectory staged(dir);
    const std::string& fresh = staged.path();
    std::string error;
    if (!produce(request, users, fresh, dir, limit, error)) {
      ++failures;
      std::cout << key << ": FAILED" << (action == "update" ? ", store unchanged" : "") << ": " << error << "\n";
      posix_fs::remove_tree(fresh);
      continue;
    }
    if (action == "generate") {
      staged.commit();
      std::cout << key << ": written (" << users.size() << " scenario(s))\n";
    } else if (action == "update") {
      const bool replaces = posix_fs::exists(dir);
      const std::string previous = dir + ".previous-" + utc_now();
      staged.commit(previous);
      std::cout << key << ": " << (replaces ? "updated; the previous version is " + previous : std::string("written")) << "\n";
    } else {  // verify
      const bool bf16 = request.dtype == "bf16" || (request.dtype.empty() && request.device == "cuda");
      const OutputComparison latents = compare_files(fresh + "/latents.safetensors", dir + "/latents.safetensors");
      const OutputComparison tokens = compare_files(fresh + "/prior_tokens.safetensors", dir + "/prior_tokens.safetensors");
      const OutputComparison image = compare_files(fresh + "/image.png", dir + "/image.png");
      const bool ok = (bf16 ? latents.cosine >= 0.999 : latents.relative_max_error <= 1e-4) &&
                      tokens.max_abs_error == 0 && image.psnr_db >= 40.0;
      failures += ok ? 0 : 1;
      std::cout << key << ": " << (ok ? "matches" : "DIFFERS") << " — latents " << latents.summary() << "; prior tokens "
                << (tokens.max_abs_error == 0 ? "identical" : "differ") << "; image " << image.summary() << "\n";
      posix_fs::remove_tree(fresh);
    }
  }
  return failures == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace glmh
