#include "harness/launch/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstdlib>
#include <initializer_list>

namespace glmh {

namespace {

void write_text(const char* s) {
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, s, strlen(s));
}

void on_fatal_signal(int sig) {
  // Only async-signal-safe calls (backtrace() is safe once libgcc is loaded, see install).
  const char* rank = ::getenv("RANK");
  write_text(rank ? "[rank " : "[glmh] ");
  if (rank) {
    write_text(rank);
    write_text("] ");
  }
  write_text("fatal: ");
  write_text(sigdescr_np(sig) ? sigdescr_np(sig) : "signal");
  write_text("; backtrace:\n");
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void install_crash_report() {
  void* warm[1];
  ::backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, on_fatal_signal);
}

}  // namespace glmh
