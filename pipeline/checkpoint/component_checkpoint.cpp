#include "pipeline/checkpoint/component_checkpoint.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "pipeline/runtime/posix_fs.h"
#include "pipeline/checkpoint/preset_weights.h"
#include "pipeline/checkpoint/weight_map.h"
#include "pipeline/runtime/error_text.h"

namespace glmh {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw CheckpointError("cannot write '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw CheckpointError("cannot rename '" + tmp + "' to '" + path + "'");
}

}  // namespace

ComponentCheckpoint ComponentCheckpoint::open(const std::string& dir) {
  ComponentCheckpoint c;
  c.dir_ = dir;
  if (!posix_fs::is_directory(dir)) throw CheckpointError("checkpoint component '" + dir + "' is not a directory");
  c.config_ = read_json_file(dir + "/config.json");
  std::vector<std::string> indexes, files;
  for (const auto& name : posix_fs::list_directory(dir)) {
    if (ends_with(name, ".safetensors.index.json")) indexes.push_back(name);
    else if (ends_with(name, ".safetensors")) files.push_back(name);
  }
  if (indexes.size() > 1) throw CheckpointError("checkpoint component '" + dir + "' has several *.safetensors.index.json files");
  if (indexes.size() == 1) {
    const std::string index_path = dir + "/" + indexes[0];
    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (const auto& [tensor, shard] : parse_weight_map(read_json_file(index_path), index_path)) {
      if (!shards.count(shard)) {
        const std::string shard_path = dir + "/" + shard;
        if (!posix_fs::exists(shard_path))
          throw CheckpointError("'" + index_path + "': tensor '" + tensor + "' maps to missing file '" + shard + "'");
        shards[shard] = SafetensorsFile::open(shard_path);
      }
      if (!shards[shard]->contains(tensor))
        throw CheckpointError("'" + index_path + "': tensor '" + tensor + "' is not in '" + shard + "'");
      c.where_[tensor] = shards[shard];
    }
    return c;
  }
  if (files.size() != 1)
    throw CheckpointError("checkpoint component '" + dir + "': expected one *.safetensors file or an index, found " +
                          std::to_string(files.size()) + " files");
  auto file = SafetensorsFile::open(dir + "/" + files[0]);
  for (const auto& name : file->names()) c.where_[name] = file;
  return c;
}

ComponentCheckpoint ComponentCheckpoint::generated(const std::string& label, nlohmann::json config,
                                                   std::map<std::string, std::vector<int64_t>> shapes, uint64_t seed) {
  ComponentCheckpoint c;
  c.dir_ = label;
  c.config_ = std::move(config);
  c.generated_ = true;
  c.generated_shapes_ = std::move(shapes);
  c.seed_ = seed;
  return c;
}

bool ComponentCheckpoint::contains(const std::string& name) const {
  return generated_ ? generated_shapes_.count(name) != 0 : where_.count(name) != 0;
}

std::vector<std::string> ComponentCheckpoint::names() const {
  std::vector<std::string> out;
  if (generated_)
    for (const auto& [name, shape] : generated_shapes_) out.push_back(name);
  for (const auto& [name, f] : where_) out.push_back(name);
  return out;
}

std::string ComponentCheckpoint::file_of(const std::string& name) const {
  if (generated_) return dir_;
  const auto it = where_.find(name);
  if (it == where_.end()) throw CheckpointError("checkpoint component '" + dir_ + "': no tensor '" + name + "'");
  return it->second->path();
}

at::Tensor ComponentCheckpoint::load(const std::string& name, const std::vector<int64_t>& shape,
                                     const c10::Device& device, c10::ScalarType dtype) const {
  if (!generated_) return tensor(name, shape).to(device, dtype);
  check_generated(name, shape);
  return preset_parameter(dir_, name, shape, seed_, device, dtype);
}

void ComponentCheckpoint::check_generated(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto it = generated_shapes_.find(name);
  if (it == generated_shapes_.end())
    throw CheckpointError("preset component '" + dir_ + "': no tensor '" + name + "' (expected " + shape_text(shape) + ")");
  if (it->second != shape)
    throw CheckpointError("preset component '" + dir_ + "': tensor '" + name + "' has shape " + shape_text(it->second) +
                          ", expected " + shape_text(shape));
}

at::Tensor ComponentCheckpoint::tensor(const std::string& name, const std::vector<int64_t>& shape,
                                       c10::optional<c10::ScalarType> dtype) const {
  if (generated_) {
    check_generated(name, shape);
    return preset_parameter(dir_, name, shape, seed_, c10::Device(c10::kCPU), dtype.value_or(at::kFloat));
  }
  const auto it = where_.find(name);
  if (it == where_.end())
    throw CheckpointError("checkpoint component '" + dir_ + "': missing tensor '" + name + "' (expected " +
                          shape_text(shape) + ")");
  const SafetensorsEntry& e = it->second->entry(name);
  if (e.shape != shape)
    throw CheckpointError("'" + it->second->path() + "': tensor '" + name + "' has shape " + shape_text(e.shape) +
                          ", expected " + shape_text(shape));
  if (dtype && scalar_type_of(e.dtype) != *dtype)
    throw CheckpointError("'" + it->second->path() + "': tensor '" + name + "' has dtype " + e.dtype +
                          ", expected " + safetensors_dtype(*dtype));
  return it->second->tensor(name);
}

void write_component(const std::string& dir, const nlohmann::json& config,
                     const std::map<std::string, at::Tensor>& tensors, const std::string& stem,
                     uint64_t max_shard_bytes) {
  posix_fs::make_directories(dir);
  write_text_atomically(dir + "/config.json", config.dump(2) + "\n");
  // Greedy sharding in name order, as transformers' save_pretrained does by size.
  std::vector<std::map<std::string, at::Tensor>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t bytes = uint64_t(t.numel()) * t.element_size();
    if (in_shard > 0 && in_shard + bytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back()[name] = t;
    in_shard += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    write_safetensors(dir + "/" + stem + ".safetensors", tensors, {{"format", "pt"}});
    return;
  }
  nlohmann::json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[256];
    std::snprintf(name, sizeof name, "%s-%05zu-of-%05zu.safetensors", stem.c_str(), i + 1, shards.size());
    write_safetensors(dir + "/" + name, shards[i], {{"format", "pt"}});
    for (const auto& [tensor_name, t] : shards[i]) index["weight_map"][tensor_name] = name;
  }
  write_text_atomically(dir + "/" + stem + ".safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace glmh
