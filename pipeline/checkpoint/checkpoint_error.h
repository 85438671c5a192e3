// The one error type for bad checkpoint input (a safetensors file, an index, a config.json): its
// message names the file and, where there is one, the tensor or field, on one line (outside text
// in it is escaped here, whoever throws).
#pragma once

#include <stdexcept>
#include <string>

#include "pipeline/runtime/printable_text.h"

namespace glmh {

class CheckpointError : public std::runtime_error {
 public:
  explicit CheckpointError(const std::string& what) : std::runtime_error(printable(what, 1000)) {}
};

}  // namespace glmh
