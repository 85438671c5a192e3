// glmh's exit codes, the same for every command.
#pragma once

namespace glmh {

enum ExitCode : int {
  kExitOk = 0,             // every check passed
  kExitCheckFailed = 1,    // the run completed and a check failed
  kExitUsage = 2,          // bad command line, bad input file, refused layout
  kExitInfrastructure = 3, // the run itself broke: a rank died, stalled, or a collective failed
};

}  // namespace glmh
