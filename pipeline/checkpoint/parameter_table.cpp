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

at::Tensor fuse_rows_as_views(std::map<std::string, at::Tensor>& params, const std::vector<std::string>& names) {
  std::vector<at::Tensor> parts;
  for (const std::string& name : names) parts.push_back(params.at(name));
  const at::Tensor fused = at::cat(parts, 0);
  int64_t row = 0;
  for (const std::string& name : names) {
    at::Tensor& entry = params.at(name);
    const int64_t rows = entry.size(0);
    entry = fused.narrow(0, row, rows);
    row += rows;
  }
  return fused;
}

}  // namespace glmh
