// The checks a glmh run can make, by the names results.csv records (docs/checks.md): what a
// scenario's `expect=detect:CHECK[+CHECK...]` may name.
#pragma once

#include <string>
#include <vector>

namespace glmh {

inline const std::vector<std::string>& all_check_names() {
  static const std::vector<std::string> names = {"request_equality", "token_equality",    "rotary_sharding",
                                                 "output_parity",    "image_parity",      "cache_consistency",
                                                 "collective_precision"};
  return names;
}

}  // namespace glmh
