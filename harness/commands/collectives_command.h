// glmh collectives: every collective on every process group of a layout, checked, with a
// per-group table (nccl-tests style: the correctness column beside the time).
#pragma once

#include <string>
#include <vector>

namespace glmh {

int collectives_command(const std::vector<std::string>& args);

}  // namespace glmh
