// Outputs of a process killed with SIGKILL at some moment: a run directory, a validate report
// directory and a golden are left as they were or as the finished command leaves them, never a
// mix of the two and never with a partial file under a final name; leftover stagings are swept by
// the next command (docs/reliability.md#crash-safe-outputs).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/tiny_runs.h"

namespace glmh {
namespace {

using Snapshot = std::map<std::string, std::string>;  // relative path -> contents

void take(const std::string& root, const std::string& rel, Snapshot& into) {
  for (const auto& name : posix_fs::list_directory(root + rel)) {
    const std::string path = rel + "/" + name;
    if (posix_fs::is_directory(root + path)) {
      take(root, path, into);
    } else {
      std::ifstream in(root + path, std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      into[path] = bytes.str();
    }
  }
}

Snapshot snapshot(const std::string& dir) {
  Snapshot s;
  if (posix_fs::exists(dir)) take(dir, "", s);
  return s;
}

class CrashSafeOutputs : public testing::TinyRuns {
 protected:
  // Starts argv, kills its process group with SIGKILL after `delay`, and waits for it and its ranks.
  void run_and_kill(const std::vector<std::string>& argv, std::chrono::milliseconds delay) {
    testing::ChildProcess child(argv);
    std::this_thread::sleep_for(delay);
    ::kill(-child.pid(), SIGKILL);
    child.wait(std::chrono::seconds(30));
    expect_no_leftover_ranks();
  }

  // After a kill, `now` must be `before`, or a whole new state that `is_new` accepts.
  // Returns whether it was the new state.
  template <class IsNew>
  bool expect_old_or_new(const Snapshot& before, const Snapshot& now, const std::string& when, IsNew&& is_new) {
    for (const auto& [path, bytes] : now)
      EXPECT_TRUE(path.find(".tmp") == std::string::npos && path.find(".partial-") == std::string::npos)
          << when << ": a temporary file under the final name: " << path;
    if (now == before) return false;
    EXPECT_TRUE(is_new(now)) << when << ": neither the old state nor a whole new one (" << now.size() << " files)";
    return true;
  }

  static std::string json_field(const Snapshot& s, const std::string& file, const std::string& key) {
    const auto it = s.find(file);
    if (it == s.end()) return "";
    const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
    if (!j.is_object() || !j.contains(key)) return "";
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
  }

  // No staging of `final_dir` is left once a later command ran to its end.
  static void expect_no_stagings_of(const std::string& final_dir) {
    const std::string parent = posix_fs::parent_path(final_dir);
    const std::string name = final_dir.substr(parent.size() + 1);
    for (const auto& entry : posix_fs::list_directory(parent))
      EXPECT_NE(entry.rfind(name + ".partial-", 0), 0u) << "left over: " << parent << "/" << entry;
  }
};

TEST_F(CrashSafeOutputs, AKilledRunLeavesItsDirectoryOldOrNew) {
  const std::string out = test_dir() + "/out";
  auto argv_for = [&](int seed) {
    // Without a reference: the launcher runs the single-rank run first, into the same staging.
    std::vector<std::string> argv{GLMH_BINARY, "run", "--out", out, "--golden", "none", "--world-size", "2",
                                  "--sp", "2", "--seed", std::to_string(seed)};
    for (const auto& a : request_args()) argv.push_back(a);
    return argv;
  };
  const std::vector<std::string> files = {"/run.json", "/summary.md", "/report.html", "/results.csv", "/junit.xml",
                                          "/outcomes.json", "/image.png", "/latents.safetensors",
                                          "/prior_tokens.safetensors", "/reference/run.json",
                                          "/reference/latents.safetensors"};
  int seed = 1;
  auto complete_run_of = [&](int s) {
    return [&, s](const Snapshot& now) {
      for (const auto& f : files)
        if (!now.count(f)) return false;
      // run.json's request holds the seed as text.
      return json_field(now, "/run.json", "request").find("\"seed\":\"" + std::to_string(s) + "\"") != std::string::npos;
    };
  };
  testing::ChildProcess first(argv_for(seed));
  ASSERT_EQ(first.wait(std::chrono::seconds(120)).exit_code, 0);
  Snapshot state = snapshot(out);
  ASSERT_TRUE(complete_run_of(seed)(state));
  ASSERT_EQ(json_field(state, "/outcomes.json", "written_to"), out) << "paths recorded under the final name";

  int replaced = 0;
  // A whole run takes about 3 s on the 2-core machine: kills from its start to its end.
  for (int ms : {100, 400, 800, 1200, 1700, 2300, 3000}) {
    ++seed;
    run_and_kill(argv_for(seed), std::chrono::milliseconds(ms));
    const Snapshot now = snapshot(out);
    if (expect_old_or_new(state, now, "killed after " + std::to_string(ms) + " ms", complete_run_of(seed))) {
      ++replaced;
      state = now;
    }
  }
  // Run to the end, the same command replaces the directory and sweeps the stagings of the killed ones.
  testing::ChildProcess last(argv_for(++seed));
  ASSERT_EQ(last.wait(std::chrono::seconds(120)).exit_code, 0);
  EXPECT_TRUE(complete_run_of(seed)(snapshot(out)));
  expect_no_stagings_of(out);
  std::cout << "[          ] " << replaced << " of 7 killed runs had already put their directory in place\n";
}

TEST_F(CrashSafeOutputs, AKilledValidateLeavesItsReportDirectoryOldOrNew) {
  const std::string csv = test_dir() + "/two.csv";
  posix_fs::make_directories(test_dir());
  std::ofstream(csv) << "name,model,height,width,steps,prompt,world_size,sp\n"
                        "one,tiny,64,64,2,A sign,1,1\n"
                        "two,tiny,64,64,2,A sign,2,2\n";
  const std::string out = test_dir() + "/report";
  auto argv_for = [&](const std::string& filter) {
    return std::vector<std::string>{GLMH_BINARY, "validate", "--scenarios", csv, "--golden", "none", "--out", out,
                                    "--filter", filter};
  };
  // One complete report of scenario "one" first; the killed ones run both scenarios.
  testing::ChildProcess first(argv_for("^one$"));
  ASSERT_EQ(first.wait(std::chrono::seconds(180)).exit_code, 0);
  Snapshot state = snapshot(out);
  auto complete = [&](const Snapshot& now) {
    for (const char* f : {"/summary.md", "/report.html", "/results.csv", "/junit.xml", "/outcomes.json",
                          "/scenarios/one/run.json", "/scenarios/two/run.json"})
      if (!now.count(f)) return false;
    return true;
  };
  ASSERT_TRUE(state.count("/scenarios/one/run.json") && !state.count("/scenarios/two/run.json"));
  for (int ms : {300, 2500, 6000}) {
    run_and_kill(argv_for("."), std::chrono::milliseconds(ms));
    const Snapshot now = snapshot(out);
    if (expect_old_or_new(state, now, "validate killed after " + std::to_string(ms) + " ms", complete)) state = now;
  }
  testing::ChildProcess last(argv_for("."));
  ASSERT_EQ(last.wait(std::chrono::seconds(180)).exit_code, 0);
  EXPECT_TRUE(complete(snapshot(out)));
  expect_no_stagings_of(out);
}

}  // namespace
}  // namespace glmh
