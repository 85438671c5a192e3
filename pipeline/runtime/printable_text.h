// Text from outside (a tensor name, a token, a CSV cell, a JSON key) quoted into an error message:
// glmh's errors are one line each (docs/reliability.md#fuzzing), and a name may hold any byte.
#pragma once

#include <cstdio>
#include <limits>
#include <string>

namespace glmh {

// `text` with control characters escaped (\n, \r, \t, else \xNN), cut after about `limit` bytes
// with "..." added.
inline std::string printable(const std::string& text, size_t limit = std::numeric_limits<size_t>::max()) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= limit) return out + "...";
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace glmh
