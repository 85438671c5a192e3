// glmh report RUN_DIR: renders the report files of a validate or bench run directory again from
// its outcomes.json (after a change of the report format, or into another directory).
#pragma once

#include <string>
#include <vector>

namespace glmh {

int report_command(const std::vector<std::string>& args);

}  // namespace glmh
