// What every fuzz target shares (docs/reliability.md#fuzzing). A parser of outside data may refuse an input
// only with its own documented error type and a one-line message; any other exception escapes to
// libFuzzer, which reports it as a finding, as it does crashes, leaks and sanitizer reports.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace glmh::fuzz {

// The parser's own refusal: must say something, on one line.
inline void check_message(const char* what) {
  const std::string text = what;
  if (text.empty() || text.find('\n') != std::string::npos) {
    std::fprintf(stderr, "refusal message is empty or spans lines: '%s'\n", what);
    std::abort();
  }
}

// Runs `parse`; `Error` (the parser's documented refusal) is fine if its message is one line.
template <class Error, class Parse>
void refuse_only_with(Parse&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    check_message(e.what());
  }
}

// An invariant of an accepted input; a broken one is a finding.
inline void require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "accepted input breaks: %s\n", what);
    std::abort();
  }
}

inline std::string text_of(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// The input as a file, for parsers that take a path. One per process, reused across inputs.
inline const std::string& write_input_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string path = [suffix] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/glmh-fuzz-" + std::to_string(::getpid()) + suffix;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace glmh::fuzz
