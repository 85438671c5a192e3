// A whole file read into memory, for the small files glmh parses (configs, PNGs, reports).
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace glmh {

// The bytes of `path`; nullopt when it cannot be opened.
inline std::optional<std::string> file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace glmh
