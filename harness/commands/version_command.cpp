#include "harness/commands/version_command.h"

#include <iostream>

#include "harness/cli/exit_codes.h"
#include "harness/io/report_files.h"

namespace glmh {

int version_command(const std::vector<std::string>&) {
  std::cout << "glmh " << git_revision() << ", libtorch " << torch_version() << ", backends:"
#if defined(GLMH_WITH_GLOO)
            << " gloo"
#endif
#if defined(GLMH_WITH_NCCL)
            << " nccl"
#endif
            << "\n";
  return kExitOk;
}

}  // namespace glmh
