// Small helpers for tests that read what a glmh program wrote.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace glmh::testing {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Writes `text` to dir/name and returns the path.
inline std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace glmh::testing
