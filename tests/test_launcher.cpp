// glmh as a program: local multi-process runs, joining a torchrun-style job, and every way a
// rank can fail (exit, kill, stall, throw, diverged state) ending the run in bounded time with a
// message naming the rank and the stage, and no process left behind.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>


#include "process_runner.h"
#include <torch/cuda.h>

#include "pipeline/runtime/communicator.h"
#include "temp_dir.h"

namespace glmh {
namespace {

using testing::ChildProcess;
using testing::ProcessResult;
using testing::processes_with;
using testing::run_process;
using testing::TempDir;

class GlmhProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: CPU ranks unavailable";
  }
  // Runs "glmh demo ARGS --reports <fresh dir>"; the reports dir doubles as a marker to find
  // leftover rank processes.
  ProcessResult demo(std::vector<std::string> args, std::chrono::seconds limit = std::chrono::seconds(120)) {
    std::vector<std::string> argv{GLMH_BINARY, "demo", "--reports", reports()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = run_process(argv, limit);
    EXPECT_FALSE(r.timed_out) << r.output;
    return r;
  }
  std::string reports() const { return dir_.path() + "/reports"; }
  void expect_no_leftover_ranks() {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(processes_with(reports()), std::vector<int>{}) << "rank processes left behind";
  }
  static bool contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
  }

  TempDir dir_;
};

TEST_F(GlmhProgram, DemoPassesAndWritesAReportOnTwoThreeAndFourRanks) {
  for (const auto& layout : std::vector<std::vector<std::string>>{
           {"--world-size", "2", "--sp", "2"},
           {"--world-size", "3", "--sp", "3", "--height", "24"},
           {"--world-size", "4", "--tp", "2", "--cfg", "2"},
           {"--world-size", "4", "--sp", "4", "--ulysses", "2", "--ring", "2"}}) {
    const ProcessResult r = demo(layout);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "check token_equality: pass")) << r.output;
    EXPECT_TRUE(contains(r.output, "check output_parity: pass")) << r.output;
    EXPECT_TRUE(contains(r.output, "Result is : VALID")) << r.output;
  }
  int reports_written = 0;
  for (const auto& run : posix_fs::list_directory(reports())) {
    EXPECT_TRUE(posix_fs::exists(reports() + "/" + run + "/summary.md"));
    EXPECT_TRUE(posix_fs::exists(reports() + "/" + run + "/results.csv"));
    ++reports_written;
  }
  EXPECT_EQ(reports_written, 4);
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, CollectivesCommandChecksEveryGroup) {
  const ProcessResult r = run_process({GLMH_BINARY, "collectives", "--world-size", "4", "--tp", "2", "--sp", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* group : {"world", "tp", "sp", "ulysses", "ring", "cfg"})
    EXPECT_TRUE(contains(r.output, std::string("\n  ") + group)) << r.output;
  EXPECT_TRUE(contains(r.output, "# Wrong results : 0 OK")) << r.output;
}

TEST_F(GlmhProgram, EveryLogLineCarriesItsRank) {
  const ProcessResult r = demo({"--world-size", "2", "--sp", "2", "--inject", "throw:1:demo.prepare"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line))
    EXPECT_TRUE(line.rfind("[rank ", 0) == 0 || line.rfind("[glmh] ", 0) == 0) << "untagged line: " << line;
}

TEST_F(GlmhProgram, ARankThatIsKilledEndsTheRunNamingRankAndStage) {
  const ProcessResult r = demo({"--world-size", "3", "--sp", "3", "--height", "24", "--inject", "kill:1:demo.denoise"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 was killed by signal 9")) << r.output;
  EXPECT_TRUE(contains(r.output, "in stage 'demo.denoise'")) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, ARankThatExitsEndsTheRunNamingRankAndStage) {
  const ProcessResult r = demo({"--world-size", "4", "--sp", "2", "--cfg", "2", "--inject", "exit:3:demo.prior"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 3 exited with code 7 in stage 'demo.prior'")) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, AStalledRankEndsTheRunAfterTheCollectiveTimeout) {
  const ProcessResult r = demo({"--world-size", "2", "--sp", "2", "--timeout", "3", "--inject", "stall:1:demo.denoise"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "Timed out")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 0 exited with code 3 in stage 'demo.denoise'")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank(s) 1 (stage 'demo.denoise') still running")) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, TheRunTimeoutStopsARunThatMakesNoProgress) {
  const ProcessResult r = demo({"--world-size", "2", "--sp", "2", "--timeout", "120", "--run-timeout", "3",
                                "--inject", "stall:0:demo.prepare"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "run timeout (3 s) exceeded; stages: rank 0 in 'demo.prepare'")) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, AnErrorOnTheMainRankIsRaisedOnEveryRank) {
  const ProcessResult r = demo({"--world-size", "3", "--sp", "3", "--height", "24", "--inject", "throw:0:demo.prior"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  for (int rank = 0; rank < 3; ++rank)
    EXPECT_TRUE(contains(r.output, "[rank " + std::to_string(rank) +
                                       "] error: stage 'demo.prior' failed on rank 0: injected failure"))
        << r.output;
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, ChecksFailOnDivergedTokensAndLatents) {
  const ProcessResult tokens = demo({"--world-size", "2", "--sp", "2", "--inject", "perturb:1:demo.prior"});
  EXPECT_EQ(tokens.exit_code, 1) << tokens.output;
  EXPECT_TRUE(contains(tokens.output, "check request_equality: FAIL")) << tokens.output;
  EXPECT_TRUE(contains(tokens.output, "check token_equality: FAIL — rank 1: 1 of 1024 tokens differ from rank 0's"))
      << tokens.output;
  EXPECT_TRUE(contains(tokens.output, "Result is : INVALID")) << tokens.output;
  const ProcessResult latents = demo({"--world-size", "2", "--sp", "2", "--inject", "perturb:0:demo.denoise"});
  EXPECT_EQ(latents.exit_code, 1) << latents.output;
  EXPECT_TRUE(contains(latents.output, "check output_parity: FAIL")) << latents.output;
}

TEST_F(GlmhProgram, AFrozenMainRankIsNoticedThroughItsHeartbeat) {
  // Rank 0 stops (SIGSTOP) while the others wait for its main-rank stage outside any collective.
  const ProcessResult r = demo({"--world-size", "3", "--sp", "3", "--height", "24", "--timeout", "3",
                                "--inject", "freeze:0:demo.prior"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 0 has sent no heartbeat for 3 s while running stage 'demo.prior'")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank(s) 0 (stage 'demo.prior') still running")) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, RequestEqualityCatchesADivergedRankThatCfgWouldHide) {
  // Under cfg 2 the CFG broadcast overwrites rank 1's tokens before the denoiser sees them, so
  // the output is right; the request right after the send stage is not, and must be reported.
  const ProcessResult r = demo({"--world-size", "2", "--cfg", "2", "--inject", "perturb:1:demo.prior"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "check request_equality: FAIL — differs from rank 0 on rank 1: field 'noise'"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "check token_equality: FAIL")) << r.output;
  EXPECT_TRUE(contains(r.output, "check output_parity: pass")) << r.output;
}

TEST_F(GlmhProgram, FaultsThatCouldNeverFireAreRefused) {
  ProcessResult r = demo({"--world-size", "2", "--sp", "2", "--inject", "throw:1:demo.prior"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 does not run the body of MAIN_RANK_ONLY_AND_SEND_TO_OTHERS stage 'demo.prior'"))
      << r.output;
  r = demo({"--world-size", "2", "--sp", "2", "--inject", "kill:2:demo.prior"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 2 does not exist (world size 2)")) << r.output;
  r = demo({"--world-size", "2", "--sp", "2", "--inject", "kill:1:demo.typo"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "no stage 'demo.typo'")) << r.output;
}

TEST_F(GlmhProgram, RunDirectoriesOfDeadLaunchersAreSweptAway) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = posix_fs::make_temp_directory("/tmp", "glmh-run-" + std::to_string(dead) + "-");
  const ProcessResult r = demo({"--world-size", "2", "--sp", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(posix_fs::exists(stale));
}

TEST_F(GlmhProgram, KillingTheLauncherTakesItsRanksWithIt) {
  ChildProcess glmh({GLMH_BINARY, "demo", "--reports", reports(), "--world-size", "2", "--sp", "2",
                     "--timeout", "120", "--inject", "stall:1:demo.prepare"});
  for (int i = 0; i < 100 && processes_with(reports()).size() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(processes_with(reports()).size(), 3u) << "launcher and two ranks expected";
  ::kill(glmh.pid(), SIGKILL);
  glmh.wait(std::chrono::seconds(10));
  expect_no_leftover_ranks();
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(GlmhProgram, JoinsAJobStartedByTorchrunThroughTheEnvironment) {
  const std::string port = std::to_string(free_port());
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int rank = 0; rank < 2; ++rank)
    ranks.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{GLMH_BINARY, "demo", "--reports", reports(), "--sp", "2"},
        std::map<std::string, std::string>{{"RANK", std::to_string(rank)}, {"WORLD_SIZE", "2"},
                                           {"LOCAL_RANK", std::to_string(rank)}, {"MASTER_ADDR", "127.0.0.1"},
                                           {"MASTER_PORT", port}, {"TORCHELASTIC_RUN_ID", "test"}}));
  for (int rank = 0; rank < 2; ++rank) {
    const ProcessResult r = ranks[rank]->wait(std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << "rank " << rank << ": " << r.output;
    if (rank == 0) {
      EXPECT_TRUE(contains(r.output, "Result is : VALID")) << r.output;
    }
  }
  EXPECT_TRUE(posix_fs::exists(reports() + "/test/summary.md"));
}

TEST_F(GlmhProgram, BadUsageAndRefusedLayoutsExitTwoBeforeAnythingStarts) {
  ProcessResult r = demo({"--world-size", "3", "--tp", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "invalid parallel layout: world size 3 != cfg 1 x tp 2 x sp 1 = 2")) << r.output;
  r = demo({"--world-size", "4", "--cfg", "4", "--sp", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "cfg must be 1 or 2")) << r.output;
  r = demo({"--bogus"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "unknown option '--bogus'")) << r.output;
  r = demo({"--steps", "many"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "option '--steps' expects an integer >= 1, got 'many'")) << r.output;
  r = demo({"--inject", "explode:0:x"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_process({GLMH_BINARY, "frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(posix_fs::exists(reports()));
}

// The same program on GPUs through NCCL (runs only on a CUDA build with two GPUs or more).
class GlmhOnGpus : public GlmhProgram {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Nccl)) GTEST_SKIP() << "built without NCCL";
    if (torch::cuda::device_count() < 2) GTEST_SKIP() << "fewer than two GPUs";
  }
};

TEST_F(GlmhOnGpus, CollectivesThroughNcclOnEveryGroup) {
  const ProcessResult r = run_process({GLMH_BINARY, "collectives", "--device", "cuda", "--world-size", "2", "--sp", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "nccl on cuda")) << r.output;
  EXPECT_TRUE(contains(r.output, "# Wrong results : 0 OK")) << r.output;
}

TEST_F(GlmhOnGpus, DemoPassesUnderSpAndCfg) {
  for (const auto& layout : std::vector<std::vector<std::string>>{{"--world-size", "2", "--sp", "2"},
                                                                   {"--world-size", "2", "--cfg", "2"},
                                                                   {"--world-size", "2", "--tp", "2"}}) {
    std::vector<std::string> args{"--device", "cuda"};
    args.insert(args.end(), layout.begin(), layout.end());
    const ProcessResult r = demo(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "Result is : VALID")) << r.output;
  }
}

TEST_F(GlmhOnGpus, AStalledRankEndsAnNcclRunInBoundedTime) {
  // NCCL collectives do not block the host: rank 0's collective spins on the device, and its
  // bounded device wait at the end of the stage reports it (torch's own watchdog alone took
  // more than 8 minutes here).
  const ProcessResult r = demo({"--device", "cuda", "--world-size", "2", "--sp", "2", "--timeout", "10",
                                "--inject", "stall:1:demo.denoise"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "device work did not finish within 10 s")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 0 exited with code 3 in stage 'demo.denoise'")) << r.output;
  EXPECT_LT(r.seconds, 90.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhOnGpus, AFrozenMainRankIsNoticedThroughItsHeartbeat) {
  const ProcessResult r = demo({"--device", "cuda", "--world-size", "2", "--sp", "2", "--timeout", "5",
                                "--inject", "freeze:0:demo.prior"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 0 has sent no heartbeat for 5 s")) << r.output;
  EXPECT_LT(r.seconds, 60.0);
  expect_no_leftover_ranks();
}

TEST_F(GlmhOnGpus, AKilledRankEndsAnNcclRunInBoundedTime) {
  const ProcessResult r = demo({"--device", "cuda", "--world-size", "2", "--sp", "2", "--timeout", "20",
                                "--inject", "kill:1:demo.denoise"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 was killed by signal 9")) << r.output;
  EXPECT_LT(r.seconds, 60.0);
  expect_no_leftover_ranks();
}

}  // namespace
}  // namespace glmh
