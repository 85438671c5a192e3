// glmh version: revision, libtorch version and collective backends.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int version_command(const std::vector<std::string>& args);

}  // namespace glmh
