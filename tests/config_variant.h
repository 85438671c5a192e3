// A copy of a golden component whose config.json is edited: the config is rewritten, every other
// file is linked, so that a test can load the same weights under another configuration.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/temp_dir.h"

namespace glmh::testing {

inline std::string component_with_config(const TempDir& dir, const std::string& component, const std::string& name,
                                         const std::function<void(nlohmann::json&)>& edit) {
  const std::string out = dir.path() + "/" + name;
  posix_fs::make_directories(out);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(component + "/config.json"));
  edit(config);
  std::ofstream(out + "/config.json") << config.dump(1);
  if (DIR* d = ::opendir(component.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string file = e->d_name;
      if (file != "." && file != ".." && file != "config.json") ::symlink((component + "/" + file).c_str(), (out + "/" + file).c_str());
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace glmh::testing
