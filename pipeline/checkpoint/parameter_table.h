// What every model component shares when it takes its weights: a table of parameter names and
// shapes (the checkpoint's tensor names), and config.json fields read with upstream's names.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <string>
#include <vector>

#include "pipeline/checkpoint/config_fields.h"

namespace glmh {

class ComponentCheckpoint;

using ParameterShapes = std::map<std::string, std::vector<int64_t>>;

// Every parameter in `shapes` from `tensors`; CheckpointError names `model` and the tensor when
// one is missing or has another shape.
std::map<std::string, at::Tensor> take_parameters(const ParameterShapes& shapes,
                                                  const std::map<std::string, at::Tensor>& tensors,
                                                  const std::string& model);

// Every parameter in `shapes` from a checkpoint component, converted to `dtype` on `device`.
// `aliases` maps a parameter to another stored name to use when it is absent (tied weights).
std::map<std::string, at::Tensor> load_parameters(const ComponentCheckpoint& checkpoint, const ParameterShapes& shapes,
                                                  const c10::Device& device, c10::ScalarType dtype,
                                                  const std::map<std::string, std::string>& aliases = {});

// Concatenates the named parameters along dim 0 into one tensor (one product where there were
// several) and replaces each entry by its view of it, so no memory is doubled. Returns the fused one.
at::Tensor fuse_rows_as_views(std::map<std::string, at::Tensor>& params, const std::vector<std::string>& names);

}  // namespace glmh
