// glmh forward: one component's forward pass on tensors from a safetensors file, for users chasing
// a parity bug against the upstream reference (tensor names follow upstream's forward arguments).
#pragma once

#include <string>
#include <vector>

namespace glmh {

int forward_command(const std::vector<std::string>& args);

}  // namespace glmh
