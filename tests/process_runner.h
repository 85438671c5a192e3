// Running glmh as a child process from a test: exit code, combined output, elapsed time, and a
// hard limit after which the child's whole process group is killed (a test never hangs).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/runtime/posix_fs.h"

namespace glmh::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string output;
  double seconds = 0;
  bool timed_out = false;
};

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {}) {
    out_path_ = "/tmp/glmh-test-out-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++);
    start_ = std::chrono::steady_clock::now();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const int fd = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  pid_t pid() const { return pid_; }

  ProcessResult wait(std::chrono::seconds limit) {
    ProcessResult r;
    int status = 0;
    for (;;) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      if (std::chrono::steady_clock::now() - start_ > limit) {
        r.timed_out = true;
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::ifstream in(out_path_);
    r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::remove(out_path_.c_str());
    return r;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  pid_t pid_ = -1;
  std::string out_path_;
  std::chrono::steady_clock::time_point start_;
};

inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 std::chrono::seconds limit = std::chrono::seconds(120),
                                 const std::map<std::string, std::string>& env = {}) {
  return ChildProcess(argv, env).wait(limit);
}

// Processes whose command line contains `marker` (to find leftovers of one run).
inline std::vector<int> processes_with(const std::string& marker) {
  std::vector<int> pids;
  for (const auto& name : posix_fs::list_directory("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in("/proc/" + name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

}  // namespace glmh::testing
