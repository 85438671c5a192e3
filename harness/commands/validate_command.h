// glmh validate: every scenario of a scenario file run with all checks (accuracy mode, in
// LoadGen's terms), each against its single-rank reference; reports in --out.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int validate_command(const std::vector<std::string>& args);

}  // namespace glmh
