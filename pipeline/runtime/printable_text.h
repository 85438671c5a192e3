// Text from outside (a tensor name, a CSV cell, a JSON key) quoted into an error message: glmh's
// errors are one line each (docs/reliability.md#fuzzing), and a name may hold any byte.
#pragma once

#include <cstdio>
#include <string>

namespace glmh {

// `text` with control characters and bytes >= 0x7f other than UTF-8 written as \xNN, and cut to
// about `limit` bytes with "..." after.
inline std::string printable(const std::string& text, size_t limit = 200) {
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() >= limit && text.size() > limit) out += "...";
  return out;
}

}  // namespace glmh
