// glmh: benchmarking and correctness validation of GLM-Image under parallel layouts.
#include <iostream>
#include <string>
#include <vector>

#include "collectives_command.h"
#include "crash_report.h"
#include "demo_command.h"
#include "forward_command.h"
#include "generate_command.h"
#include "run_command.h"
#include "validate_command.h"
#include "golden_command.h"
#include "compare_outputs.h"
#include "gate_command.h"
#include "bench_command.h"
#include "report_command.h"
#include "checkpoint_command.h"
#include "exit_codes.h"
#include "report_files.h"

namespace {

constexpr const char* kUsage =
    "usage: glmh <command> [options]\n"
    "\n"
    "commands:\n"
    "  demo         run the demo pipeline on N ranks, check it, write a report (the default job)\n"
    "  collectives  run and check every collective on every process group of a layout\n"
    "  generate     one GLM-Image request end to end: image.png, latents, prior tokens\n"
    "  run          GLM-Image under a parallel layout, checked against the single-rank run\n"
    "  validate     every scenario of a scenario file with all checks; reports\n"
    "  bench        timed iterations of every scenario: percentiles, speedups, Amdahl bound\n"
    "  report       render a validate or bench run directory's reports again\n"
    "  golden       generate | verify | update the single-rank goldens of a scenario file\n"
    "  compare      two latents, prior-token or image files: max abs, NMSE, cosine, PSNR, SSIM\n"
    "  gate         fail on failed scenarios and on latencies or speedups beyond a baseline\n"
    "  forward      one model component's forward pass on tensors from a safetensors file\n"
    "  checkpoint   'checkpoint init': write a preset as a checkpoint in the upstream layout\n"
    "  version      print glmh's revision, libtorch version and collective backends\n"
    "\n"
    "Run 'glmh <command> --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  glmh::install_crash_report();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? glmh::kExitUsage : glmh::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "demo") {
    // The launcher re-execs "glmh demo ..." for each rank; keep the command name in the args.
    return glmh::demo_command(args);
  }
  if (command == "collectives") return glmh::collectives_command(args);
  if (command == "forward") return glmh::forward_command(args);
  if (command == "generate") return glmh::generate_command(args);
  if (command == "run") return glmh::run_command(args);
  if (command == "validate") return glmh::validate_command(args);
  if (command == "golden") return glmh::golden_command(args);
  if (command == "compare") return glmh::compare_command(args);
  if (command == "gate") return glmh::gate_command(args);
  if (command == "bench") return glmh::bench_command(args);
  if (command == "report") return glmh::report_command(args);
  if (command == "checkpoint") return glmh::checkpoint_command(args);
  if (command == "version") {
    std::cout << "glmh " << glmh::git_revision() << ", libtorch " << glmh::torch_version()
              << ", backends:"
#if defined(GLMH_WITH_GLOO)
              << " gloo"
#endif
#if defined(GLMH_WITH_NCCL)
              << " nccl"
#endif
              << "\n";
    return glmh::kExitOk;
  }
  std::cerr << "glmh: unknown command '" << command << "'\n\n" << kUsage;
  return glmh::kExitUsage;
}
