#include "harness/launch/local_launcher.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>

#include "harness/cli/exit_codes.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

using Clock = std::chrono::steady_clock;

std::string make_run_id() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return std::string(buf) + "-" + std::to_string(::getpid());
}

namespace {

struct RankProcess {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  int status = 0;  // waitpid status once exited
};

std::string read_stage(const std::string& dir, int rank) {
  std::ifstream in(dir + "/rank-" + std::to_string(rank) + ".stage");
  std::string stage;
  std::getline(in, stage);
  return stage.empty() ? "startup" : stage;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "ended with status " + std::to_string(status);
}

int exit_code_for(int status) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == kExitCheckFailed || code == kExitUsage) return code;
  }
  return kExitInfrastructure;
}

[[noreturn]] void exec_rank(const LocalLaunch& launch, int rank, const std::string& dir, pid_t parent) {
  // Die with the launcher, whatever kills it; and catch the race where it died before prctl.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kExitInfrastructure);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setenv("RANK", std::to_string(rank).c_str(), 1);
  ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  ::setenv("WORLD_SIZE", std::to_string(launch.world_size).c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", std::to_string(launch.world_size).c_str(), 1);
  ::setenv("GLMH_STORE", ("file:" + dir + "/store").c_str(), 1);
  ::setenv("GLMH_STATUS_DIR", dir.c_str(), 1);
  ::setenv("GLMH_RUN_ID", launch.run_id.c_str(), 1);
  std::vector<char*> argv;
  std::string self = "glmh";
  argv.push_back(self.data());
  std::vector<std::string> args = launch.args;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  const std::string msg = "[glmh] error: cannot start rank " + std::to_string(rank) + ": exec: " +
                          std::strerror(errno) + "\n";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg.data(), msg.size());
  ::_exit(kExitInfrastructure);
}

}  // namespace

int launch_local_ranks(const LocalLaunch& launch, const RankLog& log) {
  // Run directories are named glmh-run-<launcher pid>-XXXXXX; those of launchers killed before
  // they could clean up are removed here.
  posix_fs::remove_directories_of_dead_processes("/tmp", "glmh-run-");
  std::string dir;
  try {
    dir = posix_fs::make_temp_directory("/tmp", "glmh-run-" + std::to_string(::getpid()) + "-");
  } catch (const std::exception& e) {
    log.error(e.what());
    return kExitInfrastructure;
  }

  // Signals are taken synchronously with sigtimedwait: no handler, no global flag.
  sigset_t watched, previous;
  sigemptyset(&watched);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGHUP);
  sigaddset(&watched, SIGQUIT);
  sigaddset(&watched, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &watched, &previous);
  // An inherited SIG_IGN for SIGCHLD would make the kernel reap the ranks itself, and waitpid
  // would never report them.
  ::signal(SIGCHLD, SIG_DFL);

  const pid_t self = ::getpid();
  std::vector<RankProcess> ranks(launch.world_size);
  for (int r = 0; r < launch.world_size; ++r) {
    ranks[r].rank = r;
    const pid_t pid = ::fork();
    if (pid < 0) {
      log.error("cannot start rank ", r, ": fork: ", std::strerror(errno));
      for (auto& p : ranks) {
        if (!p.running) continue;
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, nullptr, 0);
        p.running = false;
      }
      ::sigprocmask(SIG_SETMASK, &previous, nullptr);
      posix_fs::remove_tree(dir);
      return kExitInfrastructure;
    }
    if (pid == 0) exec_rank(launch, r, dir, self);
    ranks[r].pid = pid;
    ranks[r].running = true;
  }

  const auto start = Clock::now();
  std::optional<Clock::time_point> stop_at;   // when survivors get SIGKILL
  std::optional<std::string> failure;         // the line that explains the run's end
  int exit_code = kExitOk;
  int stopped_by_signal = 0;

  auto running_count = [&] {
    int n = 0;
    for (const auto& p : ranks) n += p.running ? 1 : 0;
    return n;
  };
  auto begin_stop = [&](std::chrono::milliseconds grace) {
    if (!stop_at) stop_at = Clock::now() + grace;
  };

  while (running_count() > 0) {
    // Reap everything that has exited. When several ranks ended in the same pass, blame the one
    // that died by a signal or failed on its own over one that only lost a peer (code 3).
    const RankProcess* first_bad = nullptr;
    auto blame_rank = [](const RankProcess& p) {
      if (WIFSIGNALED(p.status)) return 0;
      return WEXITSTATUS(p.status) == kExitInfrastructure ? 2 : 1;
    };
    for (auto& p : ranks) {
      if (!p.running) continue;
      int status = 0;
      const pid_t got = ::waitpid(p.pid, &status, WNOHANG);
      if (got == 0 || (got < 0 && errno == EINTR)) continue;
      if (got < 0) status = W_EXITCODE(kExitInfrastructure, 0);  // ECHILD: already reaped elsewhere
      p.running = false;
      p.status = status;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && (first_bad == nullptr || blame_rank(p) < blame_rank(*first_bad))) first_bad = &p;
    }
    if (first_bad != nullptr && !failure) {
      failure = "rank " + std::to_string(first_bad->rank) + " " +
                describe_status(first_bad->status) + " in stage '" +
                read_stage(dir, first_bad->rank) + "'";
      exit_code = exit_code_for(first_bad->status);
      // A check failure (1) or input error (2) is reached by every rank on its own; anything
      // else means the others are about to block on a dead peer.
      begin_stop(exit_code == kExitInfrastructure ? launch.grace : launch.grace * 4);
    }
    if (running_count() == 0) break;

    const auto now = Clock::now();
    if (!failure && launch.run_timeout.count() > 0 && now - start > launch.run_timeout) {
      std::ostringstream s;
      s << "run timeout (" << launch.run_timeout.count() / 1000.0 << " s) exceeded; stages:";
      for (const auto& p : ranks)
        if (p.running) s << " rank " << p.rank << " in '" << read_stage(dir, p.rank) << "'";
      failure = s.str();
      exit_code = kExitInfrastructure;
      begin_stop(std::chrono::milliseconds(0));
    }
    if (stop_at && now >= *stop_at) {
      std::string killed;
      for (const auto& p : ranks) {
        if (!p.running) continue;
        ::kill(p.pid, SIGKILL);
        killed += (killed.empty() ? "" : ", ") + std::to_string(p.rank) + " (stage '" +
                  read_stage(dir, p.rank) + "')";
      }
      if (!killed.empty() && failure)
        *failure += "; rank(s) " + killed + " still running after the grace period (stalled?): killed";
      stop_at = Clock::now() + std::chrono::hours(1);  // killed once; now just reap
    }

    timespec wait_for{0, 50 * 1000 * 1000};
    siginfo_t info;
    const int sig = ::sigtimedwait(&watched, &info, &wait_for);
    if (sig > 0 && sig != SIGCHLD && !stopped_by_signal) {
      stopped_by_signal = sig;
      for (const auto& p : ranks)
        if (p.running) ::kill(p.pid, SIGTERM);
      if (!failure) failure = std::string("interrupted by ") + strsignal(sig) + "; stopping all ranks";
      exit_code = 128 + sig;
      begin_stop(std::chrono::seconds(2));
    }
  }

  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  posix_fs::remove_tree(dir);
  if (failure && exit_code == kExitCheckFailed) log.info("checks failed: ", *failure);
  else if (failure) log.error(*failure);
  return exit_code;
}

}  // namespace glmh
