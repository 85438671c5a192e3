// The one error type for bad checkpoint input (a safetensors file, an index, a config.json): its
// message names the file and, where there is one, the tensor or field, on one line.
#pragma once

#include <stdexcept>

namespace glmh {

class CheckpointError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace glmh
