// A fresh temporary directory per test, removed with its contents afterwards.
#pragma once

#include <string>

#include "pipeline/runtime/posix_fs.h"

namespace glmh::testing {

class TempDir {
 public:
  TempDir() : path_(posix_fs::make_temp_directory("/tmp", "glmh-test-")) {}
  ~TempDir() { posix_fs::remove_tree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace glmh::testing
