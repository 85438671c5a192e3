// On a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT), print one line naming the signal
// and the process's rank, plus a raw backtrace, then die of the same signal so the launcher still
// sees how the process ended.
#pragma once

namespace glmh {

void install_crash_report();

}  // namespace glmh
