// What every model component shares when it takes its weights: a table of parameter names and
// shapes (the checkpoint's tensor names), and config.json fields read with upstream's names.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// config.json fields: absent keeps the default; a wrong type or value throws CheckpointError
// naming `source` (the file) and the field.
class ConfigFields {
 public:
  ConfigFields(const nlohmann::json& j, std::string source) : j_(j), source_(std::move(source)) {}
  void positive_int(const char* key, int64_t& out) const;
  void number(const char* key, double& out) const;
  void boolean(const char* key, bool& out) const;
  void text(const char* key, std::string& out) const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  const nlohmann::json& j_;
  std::string source_;
};

}  // namespace glmh
