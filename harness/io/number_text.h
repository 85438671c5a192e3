// Numbers as check details and reports print them: one printf-style formatter instead of a
// buffer-and-snprintf helper in every file.
#pragma once

#include <cstdio>
#include <string>

namespace glmh {

// `v` through a printf format for one double, e.g. "%.4g", "%.2f"; the default round-trips.
inline std::string number_text(double v, const char* format = "%.17g") {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

}  // namespace glmh
