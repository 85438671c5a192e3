// glmh as a program: local multi-process runs of GLM-Image with their reports, joining a
// torchrun-style job, a launcher's leftovers swept away, and bad usage refused before anything
// starts. How each kind of rank failure ends a run: tests/test_failures.cpp.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/cuda.h>

#include <fstream>
#include <sstream>

#include "pipeline/runtime/communicator.h"
#include "tests/process_runner.h"
#include "tests/text_files.h"
#include "tests/tiny_runs.h"

namespace glmh {
namespace {

using testing::ChildProcess;
using testing::ProcessResult;
using testing::processes_with;
using testing::run_process;

class GlmhProgram : public testing::TinyRuns {};

TEST_F(GlmhProgram, RunPassesAndWritesItsReportOnTwoThreeAndFourRanks) {
  // Without --out a run makes REPORTS/<run-id>/, as the README's first command does.
  const std::string reports = test_dir() + "/reports";
  for (const auto& layout : std::vector<std::vector<std::string>>{
           {"--world-size", "2", "--sp", "2"},
           {"--world-size", "3", "--sp", "3", "--ring", "3"},
           {"--world-size", "4", "--tp", "2", "--cfg", "2"},
           {"--world-size", "4", "--sp", "4", "--ulysses", "2", "--ring", "2"}}) {
    std::vector<std::string> argv{GLMH_BINARY, "run", "--reports", reports, "--reference", reference()};
    for (const auto& a : request_args()) argv.push_back(a);
    argv.insert(argv.end(), layout.begin(), layout.end());
    const ProcessResult r = run_process(argv, std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    for (const char* check : {"request_equality", "token_equality", "output_parity", "image_parity"})
      EXPECT_TRUE(contains(r.output, std::string("check ") + check + ": pass")) << r.output;
    EXPECT_TRUE(contains(r.output, "stage glm_image.denoising: ")) << r.output;
    EXPECT_TRUE(contains(r.output, "Result is : VALID; report in " + reports + "/")) << r.output;
  }
  int reports_written = 0;
  for (const auto& run : posix_fs::list_directory(reports)) {
    for (const char* file : {"summary.md", "results.csv", "report.html", "junit.xml", "run.json", "image.png"})
      EXPECT_TRUE(posix_fs::exists(reports + "/" + run + "/" + file)) << run << "/" << file;
    // The run's image beside its reference's (--reference).
    const std::string html = testing::read_text(reports + "/" + run + "/report.html");
    size_t images = 0;
    for (size_t at = html.find("<img class=\"thumb"); at != std::string::npos; at = html.find("<img class=\"thumb", at + 1))
      ++images;
    EXPECT_EQ(images, 2u) << run;
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
  const ProcessResult r = run({"--world-size", "2", "--sp", "2", "--inject", "throw:1:glm_image.before_denoising"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line))
    EXPECT_TRUE(line.rfind("[rank ", 0) == 0 || line.rfind("[glmh] ", 0) == 0) << "untagged line: " << line;
}

TEST_F(GlmhProgram, AnErrorOnTheMainRankIsRaisedOnEveryRank) {
  const ProcessResult r = run({"--world-size", "3", "--sp", "3", "--ring", "3", "--inject", "throw:0:glm_image.ar"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  for (int rank = 0; rank < 3; ++rank)
    EXPECT_TRUE(contains(r.output, "[rank " + std::to_string(rank) +
                                       "] error: stage 'glm_image.ar' failed on rank 0: injected failure"))
        << r.output;
  expect_no_leftover_ranks();
}

TEST_F(GlmhProgram, RunDirectoriesOfDeadLaunchersAreSweptAway) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = posix_fs::make_temp_directory("/tmp", "glmh-run-" + std::to_string(dead) + "-");
  // What anyone can plant in /tmp is left alone and breaks nothing: a link named like a dead
  // launcher's directory (its target survives), and a name whose "pid" overflows.
  posix_fs::make_directories(test_dir());
  const std::string target = posix_fs::make_temp_directory(test_dir(), "target-");
  std::ofstream(target + "/keep") << "x";
  const std::string link = "/tmp/glmh-run-" + std::to_string(dead) + "-link" + std::to_string(::getpid());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  const std::string huge = posix_fs::make_temp_directory("/tmp", "glmh-run-99999999999999999999999-");
  const ProcessResult r = run({"--world-size", "2", "--sp", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(posix_fs::exists(stale));
  EXPECT_TRUE(posix_fs::exists(target + "/keep"));
  ::unlink(link.c_str());
  posix_fs::remove_tree(huge);
}

TEST_F(GlmhProgram, KillingTheLauncherTakesItsRanksWithIt) {
  std::vector<std::string> argv{GLMH_BINARY, "run", "--out", test_dir() + "/killed", "--reference", reference(),
                                "--world-size", "2", "--sp", "2", "--timeout", "120", "--inject",
                                "stall:1:glm_image.ar"};
  for (const auto& a : request_args()) argv.push_back(a);
  ChildProcess glmh(argv);
  for (int i = 0; i < 100 && processes_with(test_dir()).size() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(processes_with(test_dir()).size(), 3u) << "launcher and two ranks expected";
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
  const std::string out = test_dir() + "/torchrun";
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    std::vector<std::string> argv{GLMH_BINARY, "run", "--out", out, "--reference", reference(), "--sp", "2"};
    for (const auto& a : request_args()) argv.push_back(a);
    ranks.push_back(std::make_unique<ChildProcess>(
        argv, std::map<std::string, std::string>{{"RANK", std::to_string(rank)}, {"WORLD_SIZE", "2"},
                                                 {"LOCAL_RANK", std::to_string(rank)}, {"MASTER_ADDR", "127.0.0.1"},
                                                 {"MASTER_PORT", port}, {"TORCHELASTIC_RUN_ID", "test"}}));
  }
  for (int rank = 0; rank < 2; ++rank) {
    const ProcessResult r = ranks[rank]->wait(std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << "rank " << rank << ": " << r.output;
    if (rank == 0) {
      EXPECT_TRUE(contains(r.output, "Result is : VALID")) << r.output;
    }
  }
  EXPECT_TRUE(posix_fs::exists(out + "/summary.md"));
}

TEST_F(GlmhProgram, BadUsageAndRefusedLayoutsExitTwoBeforeAnythingStarts) {
  ProcessResult r = run({"--world-size", "3", "--tp", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "invalid parallel layout: world size 3 != cfg 1 x tp 2 x sp 1 = 2")) << r.output;
  // Without --reference too: refused before a single-rank reference run could start.
  r = run_without_reference({"--world-size", "3", "--tp", "2", "--golden", "none"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(contains(r.output, "single-rank reference first")) << r.output;
  EXPECT_FALSE(posix_fs::exists(last_out() + "/reference"));
  r = run({"--world-size", "4", "--cfg", "4", "--sp", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "cfg must be 1 or 2")) << r.output;
  r = run({"--bogus"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "unknown option '--bogus'")) << r.output;
  r = run({"--steps", "many"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "option '--steps' expects an integer >= 1, got 'many'")) << r.output;
  r = run_process({GLMH_BINARY, "frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(posix_fs::exists(last_out()));
}

// The same program on GPUs through NCCL (runs only on a CUDA build with two GPUs or more); each
// multi-rank run makes its own single-rank reference on the GPU first.
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

TEST_F(GlmhOnGpus, RunPassesUnderSpCfgAndTp) {
  for (const auto& layout : std::vector<std::vector<std::string>>{{"--world-size", "2", "--sp", "2"},
                                                                   {"--world-size", "2", "--cfg", "2"},
                                                                   {"--world-size", "2", "--tp", "2"}}) {
    std::vector<std::string> args{"--device", "cuda"};
    args.insert(args.end(), layout.begin(), layout.end());
    const ProcessResult r = run_without_reference(args, std::chrono::seconds(240));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "Result is : VALID")) << r.output;
  }
}

TEST_F(GlmhOnGpus, AStalledRankEndsAnNcclRunInBoundedTime) {
  // NCCL collectives do not block the host at first: rank 0's collective spins on the device,
  // and rank 0 either reaches its bounded device wait or blocks in the CUDA runtime once the
  // launch queue is full; the ranks' progress watch ends either case, and the stalled rank too.
  const ProcessResult r = run_without_reference({"--device", "cuda", "--world-size", "2", "--sp", "2", "--timeout", "10",
                                                 "--inject", "stall:1:glm_image.denoising@1"},
                                                std::chrono::seconds(240));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_LT(r.seconds, 90) << "10 s timeout, 15 s without progress, start-up and teardown";
  EXPECT_TRUE(contains(r.output, "rank 1 in stage 'glm_image.denoising' made no progress for") ||
              contains(r.output, "rank(s) 1 (stage 'glm_image.denoising') still running"))
      << r.output;
  expect_no_leftover_ranks();
}

TEST_F(GlmhOnGpus, AFrozenMainRankIsNoticedThroughItsHeartbeat) {
  // Rank 0 stops (SIGSTOP) after two AR tokens while rank 1 waits for the AR stage on the store.
  const ProcessResult r = run_without_reference({"--device", "cuda", "--world-size", "2", "--sp", "2", "--timeout", "5",
                                                 "--inject", "freeze:0:glm_image.ar@2"},
                                                std::chrono::seconds(240));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 0 has sent no heartbeat for 5 s while running stage 'glm_image.ar'")) << r.output;
  EXPECT_TRUE(contains(r.output, "rank(s) 0 (stage 'glm_image.ar') still running")) << r.output;
  expect_no_leftover_ranks();
}

TEST_F(GlmhOnGpus, AKilledRankEndsAnNcclRunInBoundedTime) {
  const ProcessResult r = run_without_reference({"--device", "cuda", "--world-size", "2", "--sp", "2", "--timeout", "20",
                                                 "--inject", "kill:1:glm_image.denoising@1"},
                                                std::chrono::seconds(240));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "rank 1 was killed by signal 9 (Killed) in stage 'glm_image.denoising'")) << r.output;
  expect_no_leftover_ranks();
}

}  // namespace
}  // namespace glmh
