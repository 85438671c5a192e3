// glmh: benchmarking and correctness validation of GLM-Image under parallel layouts.
#include <iostream>
#include <string>
#include <vector>

#include "harness/cli/exit_codes.h"
#include "harness/commands/command_table.h"
#include "harness/launch/crash_report.h"

int main(int argc, char** argv) {
  glmh::install_crash_report();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << glmh::usage_text();
    return args.empty() ? glmh::kExitUsage : glmh::kExitOk;
  }
  const std::string name = args[0];
  args.erase(args.begin());
  if (const glmh::CommandEntry* command = glmh::find_command(name)) return command->run(args);
  std::cerr << "glmh: unknown command '" << name << "'\n\n" << glmh::usage_text();
  return glmh::kExitUsage;
}
