#include "harness/commands/command_table.h"

#include <sstream>

#include "harness/commands/bench_command.h"
#include "harness/commands/cache_diff_command.h"
#include "harness/commands/checkpoint_command.h"
#include "harness/commands/collectives_command.h"
#include "harness/commands/compare_command.h"
#include "harness/commands/forward_command.h"
#include "harness/commands/gate_command.h"
#include "harness/commands/generate_command.h"
#include "harness/commands/golden_command.h"
#include "harness/commands/report_command.h"
#include "harness/commands/run_command.h"
#include "harness/commands/validate_command.h"
#include "harness/commands/version_command.h"

namespace glmh {

const std::vector<CommandEntry>& command_table() {
  static const std::vector<CommandEntry> table = {
      {"run", "GLM-Image under a parallel layout, checked, with a report (the default job)", run_command},
      {"collectives", "run and check every collective on every process group of a layout", collectives_command},
      {"generate", "one GLM-Image request end to end: image.png, latents, prior tokens", generate_command},
      {"validate", "every scenario of a scenario file with all checks; reports", validate_command},
      {"bench", "timed iterations of every scenario: percentiles, speedups, Amdahl bound", bench_command},
      {"cache-diff", "cache-dit upgrade validation: two cache profiles over a scenario file, or a cache-dit run vs glmh's",
       cache_diff_command},
      {"report", "render a validate or bench run directory's reports again", report_command},
      {"golden", "generate | verify | update the single-rank goldens of a scenario file", golden_command},
      {"compare", "two latents, prior-token or image files: max abs, NMSE, cosine, PSNR, SSIM", compare_command},
      {"gate", "fail on failed scenarios and on latencies or speedups beyond a baseline", gate_command},
      {"forward", "one model component's forward pass on tensors from a safetensors file", forward_command},
      {"checkpoint", "'checkpoint init': write a preset as a checkpoint in the upstream layout", checkpoint_command},
      {"version", "print glmh's revision, libtorch version and collective backends", version_command},
  };
  return table;
}

const CommandEntry* find_command(std::string_view name) {
  for (const auto& c : command_table())
    if (c.name == name) return &c;
  return nullptr;
}

std::string usage_text() {
  std::ostringstream out;
  out << "usage: glmh <command> [options]\n\ncommands:\n";
  for (const auto& c : command_table()) {
    out << "  " << c.name;
    for (size_t i = c.name.size(); i < 13; ++i) out << ' ';
    out << c.summary << "\n";
  }
  out << "\nRun 'glmh <command> --help' for a command's options.\n";
  return out.str();
}

}  // namespace glmh
