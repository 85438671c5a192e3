// Running glmh itself as a child command (glmh validate runs each scenario as `glmh run ...`): its
// output goes to a log file, it dies with us (PR_SET_PDEATHSIG), and a child that outlives its
// limit is killed with its whole process group, so a scenario can never hang the driver.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace glmh {

struct ChildResult {
  int exit_code = -1;  // 128 + signal when killed by one
  bool timed_out = false;
  double seconds = 0;
};

// Runs this executable with `args` (after the program name), stdout and stderr into `log_path`.
ChildResult run_glmh_child(const std::vector<std::string>& args, const std::string& log_path,
                           std::chrono::seconds limit);

}  // namespace glmh
