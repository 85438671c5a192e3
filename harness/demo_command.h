// glmh demo: the runtime end to end on the demo pipeline, with its checks and a report.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int demo_command(const std::vector<std::string>& args);

}  // namespace glmh
