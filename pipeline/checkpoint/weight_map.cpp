#include "pipeline/checkpoint/weight_map.h"

#include "pipeline/checkpoint/checkpoint_error.h"

namespace glmh {

namespace {

bool is_shard_file_name(const std::string& name) {
  const std::string suffix = ".safetensors";
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos && name[0] != '.';
}

}  // namespace

std::map<std::string, std::string> parse_weight_map(const nlohmann::json& index, const std::string& index_path) {
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw CheckpointError("'" + index_path + "': no weight_map object");
  std::map<std::string, std::string> where;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw CheckpointError("'" + index_path + "': weight_map['" + it.key() + "'] is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (!is_shard_file_name(shard))
      throw CheckpointError("'" + index_path + "': tensor '" + it.key() + "' maps to '" + shard +
                            "', not a *.safetensors file name in the index's folder");
    where[it.key()] = shard;
  }
  return where;
}

}  // namespace glmh
