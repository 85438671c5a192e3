// glmh checkpoint init: a preset's deterministic random weights written as a GLM-Image pipeline
// checkpoint in the upstream layout, which then loads like a real one.
#pragma once

#include <string>
#include <vector>

namespace glmh {

int checkpoint_command(const std::vector<std::string>& args);

}  // namespace glmh
