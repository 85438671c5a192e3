#include "pipeline/checkpoint/parameter_table.h"

#include <ATen/ATen.h>

#include "pipeline/checkpoint/component_checkpoint.h"

namespace glmh {

std::map<std::string, at::Tensor> take_parameters(const ParameterShapes& shapes,
                                                  const std::map<std::string, at::Tensor>& tensors,
                                                  const std::string& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, shape] : shapes) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw CheckpointError(model + ": missing tensor '" + name + "'");
    if (it->second.sizes().vec() != shape) throw CheckpointError(model + ": tensor '" + name + "' has the wrong shape");
    out[name] = it->second;
  }
  return out;
}

std::map<std::string, at::Tensor> load_parameters(const ComponentCheckpoint& ckpt, const ParameterShapes& shapes,
                                                  const c10::Device& device, c10::ScalarType dtype,
                                                  const std::map<std::string, std::string>& aliases) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, shape] : shapes) {
    const auto alias = aliases.find(name);
    const std::string stored = !ckpt.contains(name) && alias != aliases.end() ? alias->second : name;
    out[name] = ckpt.load(stored, shape, device, dtype);
  }
  return out;
}

}  // namespace glmh
