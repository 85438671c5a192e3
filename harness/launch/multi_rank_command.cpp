#include "harness/launch/multi_rank_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "harness/cli/exit_codes.h"
#include "harness/launch/local_launcher.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/runtime/error_text.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

std::vector<OptionSpec> runtime_option_specs() {
  return {
      {"world-size", "N", "number of ranks; glmh starts them unless run under torchrun/srun", "1"},
      {"tp", "T", "tensor-parallel degree", "1"},
      {"sp", "S", "sequence-parallel degree (ulysses x ring)", "1"},
      {"ulysses", "U", "Ulysses degree inside SP (default: sp / ring)", "0"},
      {"ring", "R", "Ring degree inside SP (default: sp / ulysses)", "0"},
      {"cfg", "C", "CFG-parallel degree, 1 or 2", "1"},
      {"device", "cpu|cuda", "cpu runs Gloo, cuda runs NCCL (one GPU per local rank)", "cpu"},
      {"timeout", "SEC", "how long a collective may wait for its peers", "30"},
      {"run-timeout", "SEC", "local launcher: stop every rank after this long (0: never)", "3600"},
  };
}

ParallelDegrees degrees_from(const CliArgs& a) {
  ParallelDegrees d;
  d.world_size = static_cast<int>(a.integer("world-size", 1));
  d.tp = static_cast<int>(a.integer("tp", 1));
  d.sp = static_cast<int>(a.integer("sp", 1));
  d.ulysses = static_cast<int>(a.integer("ulysses", 0));
  d.ring = static_cast<int>(a.integer("ring", 0));
  d.cfg = static_cast<int>(a.integer("cfg", 1));
  return d;
}

namespace {

CommOptions comm_options(const CliArgs& args, const RankEnvironment& env) {
  CommOptions o;
  const std::string device = args.str("device");
  if (device == "cpu") {
    o.backend = CommBackend::Gloo;
    o.device = c10::Device(c10::kCPU);
  } else if (device == "cuda") {
    o.backend = CommBackend::Nccl;
    o.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  } else {
    throw UsageError("option '--device' expects cpu or cuda, got '" + device + "'");
  }
  if (!backend_available(o.backend))
    throw UsageError(std::string("--device ") + device + " needs " + backend_name(o.backend) +
                     ", which this glmh was built without");
  o.timeout = std::chrono::milliseconds(args.integer("timeout", 1) * 1000);
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    o.gloo_interface = ifname;
  } else if (env.store.kind == StoreAddress::Kind::Tcp && env.store.host != "127.0.0.1" &&
             env.store.host != "localhost") {
    // Ranks on several hosts: bind to this host's name rather than loopback.
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o.gloo_hostname = host;
  }
  return o;
}

}  // namespace

int run_multi_rank_command(const std::string& command, const CliArgs& args,
                           const std::vector<std::string>& raw_args,
                           std::optional<int> attention_heads, const RankMain& rank_main) {
  RankLog log;
  std::optional<RankEnvironment> env;
  try {
    env = RankEnvironment::from_environment();
  } catch (const std::invalid_argument& e) {
    log.error(e.what());
    return kExitUsage;
  }
  if (env) log.set_rank(env->rank);
  std::optional<ParallelLayout> layout;
  try {
    ParallelDegrees degrees = degrees_from(args);
    if (env && !args.given("world-size")) degrees.world_size = env->world_size;
    layout = ParallelLayout::create(degrees, attention_heads);
    if (env && env->world_size != layout->world_size())
      throw UsageError("started as one of " + std::to_string(env->world_size) + " ranks by " +
                       env->launcher + " but --world-size is " +
                       std::to_string(layout->world_size()));
  } catch (const std::invalid_argument& e) {  // LayoutError, UsageError
    log.error("glmh ", command, ": ", e.what());
    return kExitUsage;
  }

  if (!env) {
    LocalLaunch launch;
    launch.world_size = layout->world_size();
    launch.args = raw_args;
    launch.args.insert(launch.args.begin(), command);
    launch.run_timeout = std::chrono::milliseconds(args.integer("run-timeout", 0) * 1000);
    launch.run_id = make_run_id();
    return launch_local_ranks(launch, log);
  }

  try {
    const CommOptions comm = comm_options(args, *env);
    auto rendezvous = Rendezvous::connect(env->store, env->rank, env->world_size, comm.timeout,
                                          env->key_prefix);
    RankContextOptions options;
    options.layout = *layout;
    options.comm = comm;
    options.status_dir = env->status_dir;
    if (comm.device.is_cuda()) options.on_stuck = [&log](const std::string& why) {
      // From the watch thread, while the main thread is blocked in the device: exit at once.
      log.error(why);
      std::fflush(nullptr);
      std::_Exit(kExitInfrastructure);
    };
    RankContext ctx(env->rank, std::move(rendezvous), options);
    return rank_main(ctx, *env);
  } catch (const UsageError& e) {
    log.error(e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    log.error(one_line_error(e));
    // Exit at once: unwinding would run communicator and CUDA teardown, which can block behind
    // a collective that a dead peer never joined. Reports are written atomically, so nothing is
    // left half-written.
    std::fflush(nullptr);
    std::_Exit(kExitInfrastructure);
  }
}

}  // namespace glmh
