// One component of a Hugging Face pipeline checkpoint (transformer/, vae/, text_encoder/,
// vision_language_encoder/): its config.json and its weights, in one safetensors file or sharded
// with a *.safetensors.index.json weight map.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/Optional.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/checkpoint/config_fields.h"
#include "pipeline/checkpoint/safetensors.h"

namespace glmh {

class ComponentCheckpoint {
 public:
  // Opens `dir`: config.json plus either an index (*.safetensors.index.json, every shard it names
  // opened and every mapped tensor checked to exist) or exactly one *.safetensors file.
  static ComponentCheckpoint open(const std::string& dir);
  // A component with deterministic random weights (pipeline/checkpoint/preset_weights.h): every
  // tensor of `shapes` is made on demand from `seed`. `label` stands in for the directory in
  // messages.
  static ComponentCheckpoint generated(const std::string& label, nlohmann::json config,
                                       std::map<std::string, std::vector<int64_t>> shapes, uint64_t seed);

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;
  std::string file_of(const std::string& name) const;

  // The tensor, checked: it must exist and have `shape` (and `dtype`, when given). Errors name
  // the file, the tensor, what was expected and what was found.
  at::Tensor tensor(const std::string& name, const std::vector<int64_t>& shape,
                    c10::optional<c10::ScalarType> dtype = c10::nullopt) const;
  // The checked tensor as `dtype` on `device`; a generated one is made there directly.
  at::Tensor load(const std::string& name, const std::vector<int64_t>& shape, const c10::Device& device,
                  c10::ScalarType dtype) const;

 private:
  void check_generated(const std::string& name, const std::vector<int64_t>& shape) const;

  std::string dir_;
  nlohmann::json config_;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> where_;
  bool generated_ = false;
  std::map<std::string, std::vector<int64_t>> generated_shapes_;
  uint64_t seed_ = 0;
};

// Writes a component in the upstream layout: config.json, and the tensors either as
// `<stem>.safetensors` or, when they exceed `max_shard_bytes`, as
// `<stem>-0000i-of-0000n.safetensors` plus `<stem>.safetensors.index.json`. Atomic per file.
void write_component(const std::string& dir, const nlohmann::json& config,
                     const std::map<std::string, at::Tensor>& tensors, const std::string& stem,
                     uint64_t max_shard_bytes = uint64_t(5) << 30);

}  // namespace glmh
