// glmh under torchrun: ranks started with torchrun's environment and an agent store that speaks this
// libtorch's TCPStore protocol or the other one, the protocol probe, and a real torchrun (single
// node and two agents) wherever one is installed.
//
// A real torchrun is looked up in GLMH_TORCHRUN (path to the executable), then `torchrun` on PATH,
// then /work/ref-venv/bin/torchrun (the venv of scripts/reference/requirements.txt); the python that
// runs it serves torch's own TCPStore for the protocol tests. Without one those tests are skipped.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/rendezvous.h"
#include "pipeline/runtime/tcp_store_wire.h"
#include "tests/process_runner.h"
#include "tests/tiny_runs.h"

namespace glmh {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ProcessResult;
using testing::run_process;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

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

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

// The torchrun to use, or why there is none.
struct Torchrun {
  std::string path;     // empty: none
  std::string python;   // the python that runs it (serves torch's TCPStore); may be empty
  std::string missing;  // why there is none
};

// torchrun is a Python script: its interpreter is named on its first line ("#!/venv/bin/python3").
std::string interpreter_of(const std::string& script) {
  std::ifstream in(script);
  std::string line;
  std::getline(in, line);
  if (line.rfind("#!/", 0) != 0) return "";
  std::string python = line.substr(2, line.find(' ') == std::string::npos ? std::string::npos : line.find(' ') - 2);
  if (python.find("/env") != std::string::npos) python = posix_fs::parent_path(script) + "/python3";  // "#!/usr/bin/env python3"
  return executable(python) ? python : "";
}

const Torchrun& find_torchrun() {
  static const Torchrun found = [] {
    Torchrun t;
    std::vector<std::string> candidates;
    const char* given = std::getenv("GLMH_TORCHRUN");
    if (given && *given) {
      candidates.push_back(given);
    } else {
      if (const char* path = std::getenv("PATH")) {
        std::istringstream dirs(path);
        for (std::string dir; std::getline(dirs, dir, ':');)
          if (!dir.empty()) candidates.push_back(dir + "/torchrun");
      }
      candidates.push_back("/work/ref-venv/bin/torchrun");
    }
    for (const auto& c : candidates) {
      if (!executable(c)) continue;
      t.path = c;
      t.python = interpreter_of(c);
      return t;
    }
    t.missing = given && *given ? std::string("GLMH_TORCHRUN=") + given + " is not an executable"
                                : "none in GLMH_TORCHRUN, on PATH or at /work/ref-venv/bin/torchrun";
    return t;
  }();
  return found;
}

// torchrun's environment for one of `world` ranks of a single node. The agent's store is at `port`.
std::map<std::string, std::string> torchrun_environment(int rank, int world, int port, const std::string& run_id) {
  return {{"RANK", std::to_string(rank)},        {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},  {"LOCAL_WORLD_SIZE", std::to_string(world)},
          {"GROUP_RANK", "0"},                   {"GROUP_WORLD_SIZE", "1"},
          {"ROLE_RANK", std::to_string(rank)},   {"ROLE_WORLD_SIZE", std::to_string(world)},
          {"ROLE_NAME", "default"},              {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}, {"TORCHELASTIC_RUN_ID", run_id},
          {"TORCHELASTIC_RESTART_COUNT", "0"},   {"TORCHELASTIC_MAX_RESTARTS", "0"},
          {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"OMP_NUM_THREADS", "1"}};
}

// Starts `world` glmh ranks the way torchrun does and waits for all of them.
std::vector<ProcessResult> run_ranks_like_torchrun(const std::vector<std::string>& args, int world, int agent_port,
                                                   const std::string& run_id, std::chrono::seconds limit = 60s) {
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int rank = 0; rank < world; ++rank) {
    std::vector<std::string> argv{GLMH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    ranks.push_back(std::make_unique<ChildProcess>(argv, torchrun_environment(rank, world, agent_port, run_id)));
  }
  std::vector<ProcessResult> results;
  for (auto& r : ranks) results.push_back(r->wait(limit));
  return results;
}

void expect_collectives_pass(const std::vector<ProcessResult>& ranks) {
  for (size_t rank = 0; rank < ranks.size(); ++rank) {
    EXPECT_FALSE(ranks[rank].timed_out) << "rank " << rank << ": " << ranks[rank].output;
    EXPECT_EQ(ranks[rank].exit_code, 0) << "rank " << rank << ": " << ranks[rank].output;
  }
  EXPECT_TRUE(contains(ranks.at(0).output, "# Wrong results : 0 OK")) << ranks.at(0).output;
}

// torch's own TCPStore, served by the python of the torchrun installation: one store with the libuv
// backend (torchrun's default since torch 2.4) and one without. Each sets py/key, then waits for
// glmh/from-cpp and copies what it holds to py/echo (so torch's client is seen reading glmh's key).
class TorchServedStores {
 public:
  explicit TorchServedStores(const std::string& python) : libuv_port_(free_port()), classic_port_(free_port()) {
    const std::string script = R"(
import datetime, sys, threading, time
from torch.distributed import TCPStore
def serve(port, libuv):
    store = TCPStore("127.0.0.1", port, is_master=True, use_libuv=libuv, wait_for_workers=False,
                     timeout=datetime.timedelta(seconds=600))
    store.set("py/key", "from-python")
    store.wait(["glmh/from-cpp"])
    store.set("py/echo", store.get("glmh/from-cpp"))
    time.sleep(600)
for port, libuv in ((int(sys.argv[1]), True), (int(sys.argv[2]), False)):
    threading.Thread(target=serve, args=(port, libuv), daemon=True).start()
time.sleep(600)
)";
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{python, "-c", script, std::to_string(libuv_port_), std::to_string(classic_port_)});
  }
  ~TorchServedStores() {
    ::kill(-process_->pid(), SIGKILL);
    process_->wait(10s);
  }
  int libuv_port() const { return libuv_port_; }
  int classic_port() const { return classic_port_; }
  pid_t pid() const { return process_->pid(); }

 private:
  int libuv_port_, classic_port_;
  std::unique_ptr<ChildProcess> process_;
};

// TinyRuns: the shared single-rank reference of the tiny request, run directories, the Gloo skip.
class TorchrunTest : public testing::TinyRuns {
 protected:
  static void TearDownTestSuite() {
    torch_stores_.reset();
    TinyRuns::TearDownTestSuite();
  }
  // Started once for the suite: importing torch takes seconds.
  static TorchServedStores& torch_stores(const std::string& python) {
    if (!torch_stores_) torch_stores_ = std::make_unique<TorchServedStores>(python);
    return *torch_stores_;
  }
  // The real torchrun; a GLMH_TORCHRUN that names none is a failure, no torchrun at all a skip.
  const Torchrun& torchrun() {
    const Torchrun& t = find_torchrun();
    if (t.path.empty() && std::getenv("GLMH_TORCHRUN") && *std::getenv("GLMH_TORCHRUN")) ADD_FAILURE() << t.missing;
    return t;
  }
  static inline std::unique_ptr<TorchServedStores> torch_stores_;
};

#define REQUIRE_TORCHRUN(t)                                                  \
  const Torchrun& t = torchrun();                                            \
  if (t.path.empty()) GTEST_SKIP() << "no usable torchrun: " << t.missing

#define REQUIRE_TORCH_PYTHON(t)                                              \
  REQUIRE_TORCHRUN(t);                                                       \
  if (t.python.empty()) GTEST_SKIP() << "cannot tell which python runs " << t.path

// --- the protocol probe and glmh's own client ---------------------------------------------------

TEST_F(TorchrunTest, ProbeRecognisesAStoreOfThisLibtorch) {
  const int port = free_port();
  auto served = Rendezvous::connect(StoreAddress::parse("tcp:127.0.0.1:" + std::to_string(port)), 0, 1, 10s);
  served->set("glmh/written-by-c10d", "c10d");
  const StoreWire wire = probe_store_wire("127.0.0.1", port, 10s);
  EXPECT_EQ(std::string(store_wire_name(wire)), store_wire_name(c10d_store_wire()));
  // glmh's client and c10d's read each other's keys: same dialect, same key layout.
  StoreWireClient client("127.0.0.1", port, wire, 10s);
  EXPECT_EQ(client.get("glmh/written-by-c10d", 5s), "c10d");
  client.set("glmh/written-by-glmh", "glmh");
  EXPECT_EQ(served->get("glmh/written-by-glmh"), "glmh");
  // A missing key ends the wait on time, with a message naming it.
  const auto start = std::chrono::steady_clock::now();
  try {
    client.get("glmh/never-set", 1s);
    ADD_FAILURE() << "no error for a key that was never set";
  } catch (const StoreWireError& e) {
    EXPECT_TRUE(contains(e.what(), "key 'glmh/never-set' did not appear within 1 s")) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(TorchrunTest, ProbeRecognisesTorchsStoreWithAndWithoutLibuv) {
  REQUIRE_TORCH_PYTHON(t);
  TorchServedStores& stores = torch_stores(t.python);
  for (const int port : {stores.libuv_port(), stores.classic_port()}) {
    SCOPED_TRACE(port == stores.libuv_port() ? "libuv store" : "store without libuv");
    EXPECT_EQ(probe_store_wire("127.0.0.1", port, 60s), StoreWire::Validated);  // connects once it is up
    StoreWireClient client("127.0.0.1", port, StoreWire::Validated, 10s);
    EXPECT_EQ(client.get("py/key", 10s), "from-python");
    client.set("glmh/from-cpp", "hello from glmh");
    EXPECT_EQ(client.get("py/echo", 10s), "hello from glmh");
  }
}

TEST_F(TorchrunTest, ProbeRecognisesALibuvStoreThatReadsTheWholeProbeAtOnce) {
  // A server that accepts late (stopped here, loaded in CI) finds the probe's first byte and the
  // rest in one read; libuv's store then waits for more bytes before it parses them as a request.
  REQUIRE_TORCH_PYTHON(t);
  TorchServedStores& stores = torch_stores(t.python);
  ASSERT_EQ(probe_store_wire("127.0.0.1", stores.libuv_port(), 60s), StoreWire::Validated);  // it is up
  ASSERT_EQ(::kill(stores.pid(), SIGSTOP), 0);
  const auto start = std::chrono::steady_clock::now();
  auto probe = std::async(std::launch::async, [&] { return probe_store_wire("127.0.0.1", stores.libuv_port(), 20s); });
  std::this_thread::sleep_for(700ms);  // the probe's first byte and the eight after it are both sent by now
  ::kill(stores.pid(), SIGCONT);
  EXPECT_EQ(probe.get(), StoreWire::Validated);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(TorchrunTest, AStoreThatNeverAnswersFailsTheRanksWithinTheTimeout) {
  // A listener that accepts and stays silent stands for a stuck or foreign agent store.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);

  const auto ranks = run_ranks_like_torchrun({"collectives", "--world-size", "2", "--sp", "2", "--timeout", "2"},
                                             2, port, "silent", 30s);
  ::close(fd);
  for (const auto& r : ranks) {
    EXPECT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_TRUE(contains(r.output, "store tcp:127.0.0.1:" + std::to_string(port) + ": no answer")) << r.output;
    EXPECT_LT(r.seconds, 10.0) << r.output;
  }
}

// --- ranks started with torchrun's environment, without torchrun -------------------------------

TEST_F(TorchrunTest, RanksJoinAnAgentStoreThatSpeaksThisLibtorchsProtocol) {
  // What a torchrun of the same torch version does: its agent serves the store at MASTER_PORT.
  const int port = free_port();
  auto agent_store = Rendezvous::connect(StoreAddress::parse("tcp:127.0.0.1:" + std::to_string(port)), 0, 1, 30s);
  const auto ranks = run_ranks_like_torchrun({"collectives", "--world-size", "2", "--sp", "2"}, 2, port, "same");
  expect_collectives_pass(ranks);
  EXPECT_FALSE(contains(ranks[0].output, "serves glmh's store")) << ranks[0].output;
  EXPECT_TRUE(agent_store->has("glmh/same/0/world.0/0/0")) << "glmh's keys are not in the agent store";
}

TEST_F(TorchrunTest, RanksBootstrapTheirOwnStoreThroughAnAgentStoreOfAnotherProtocol) {
  if (c10d_store_wire() == StoreWire::Validated) GTEST_SKIP() << "this libtorch speaks torch >= 2.1's protocol itself";
  REQUIRE_TORCH_PYTHON(t);
  TorchServedStores& stores = torch_stores(t.python);
  for (const int port : {stores.libuv_port(), stores.classic_port()}) {
    SCOPED_TRACE(port == stores.libuv_port() ? "libuv store" : "store without libuv");
    const std::string run_id = "other-" + std::to_string(port);
    const auto ranks = run_ranks_like_torchrun({"collectives", "--world-size", "2", "--sp", "2"}, 2, port, run_id, 90s);
    expect_collectives_pass(ranks);
    EXPECT_TRUE(contains(ranks[0].output, "speaks the TCPStore protocol of torch >= 2.1, this libtorch")) << ranks[0].output;
    EXPECT_TRUE(contains(ranks[0].output, "rank 0 serves glmh's store at tcp:127.0.0.1:")) << ranks[0].output;
    // The address sits in the agent store under the run's prefix.
    StoreWireClient agent("127.0.0.1", port, StoreWire::Validated, 10s);
    EXPECT_TRUE(contains(agent.get("glmh/" + run_id + "/0/store", 5s), "127.0.0.1:"));
  }
}

// --- a real torchrun -----------------------------------------------------------------------------

ProcessResult torchrun_glmh(const Torchrun& t, const std::vector<std::string>& torchrun_args,
                            const std::vector<std::string>& glmh_args, std::chrono::seconds limit = 90s) {
  std::vector<std::string> argv{t.path};
  argv.insert(argv.end(), torchrun_args.begin(), torchrun_args.end());
  argv.insert(argv.end(), {"--no-python", GLMH_BINARY});
  argv.insert(argv.end(), glmh_args.begin(), glmh_args.end());
  return run_process(argv, limit, {{"OMP_NUM_THREADS", "1"}});
}

TEST_F(TorchrunTest, RealTorchrunTwoAgentsOnOneHostCollectives) {
  REQUIRE_TORCHRUN(t);
  const std::string endpoint = "127.0.0.1:" + std::to_string(free_port());
  std::vector<std::unique_ptr<ChildProcess>> agents;
  for (int node = 0; node < 2; ++node) {
    std::vector<std::string> argv{t.path, "--nnodes", "2", "--nproc-per-node", "2", "--node-rank", std::to_string(node),
                                  "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "glmh-" + std::to_string(::getpid()),
                                  "--no-python", GLMH_BINARY, "collectives", "--world-size", "4", "--sp", "2", "--cfg", "2",
                                  "--timeout", "20"};
    agents.push_back(std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{{"OMP_NUM_THREADS", "1"}}));
  }
  std::string all;
  for (int node = 0; node < 2; ++node) {
    const ProcessResult r = agents[node]->wait(90s);
    EXPECT_FALSE(r.timed_out) << "node " << node << ": " << r.output;
    EXPECT_EQ(r.exit_code, 0) << "node " << node << ": " << r.output;
    all += r.output;
  }
  EXPECT_TRUE(contains(all, "# Wrong results : 0 OK")) << all;
}

TEST_F(TorchrunTest, RealTorchrunGlmImageUnderSequenceParallelism) {
  REQUIRE_TORCHRUN(t);
  const std::string out = test_dir() + "/sp2";
  std::vector<std::string> args{"run", "--world-size", "2", "--sp", "2", "--reference", reference(), "--out", out,
                                "--timeout", "20"};
  for (const auto& a : request_args()) args.push_back(a);
  const ProcessResult r = torchrun_glmh(
      t, {"--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", std::to_string(free_port())}, args);
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "check output_parity: pass")) << r.output;
  EXPECT_TRUE(contains(r.output, "Result is : VALID")) << r.output;
  EXPECT_TRUE(posix_fs::exists(out + "/latents.safetensors"));
}

}  // namespace
}  // namespace glmh
