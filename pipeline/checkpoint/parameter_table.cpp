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

void ConfigFields::fail(const std::string& what) const { throw CheckpointError("'" + source_ + "': " + what); }

void ConfigFields::positive_int(const char* key, int64_t& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_number_integer() || j_[key].get<int64_t>() <= 0)
    fail(std::string("field '") + key + "' must be a positive integer, got " + j_[key].dump());
  out = j_[key].get<int64_t>();
}

void ConfigFields::number(const char* key, double& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_number()) fail(std::string("field '") + key + "' must be a number, got " + j_[key].dump());
  out = j_[key].get<double>();
}

void ConfigFields::boolean(const char* key, bool& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_boolean()) fail(std::string("field '") + key + "' must be true or false, got " + j_[key].dump());
  out = j_[key].get<bool>();
}

void ConfigFields::text(const char* key, std::string& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_string()) fail(std::string("field '") + key + "' must be a string, got " + j_[key].dump());
  out = j_[key].get<std::string>();
}

}  // namespace glmh
