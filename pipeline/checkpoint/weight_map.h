// A sharded component's *.safetensors.index.json: which shard file holds each tensor. Torch-free,
// so that it is fuzzed on its own (fuzz/).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace glmh {

// tensor name -> shard file name, from the index's "weight_map". Each shard must be a plain file
// name in the index's own folder ("name.safetensors": no '/', not "." or ".."), so that an index
// cannot send the reader elsewhere. CheckpointError naming `index_path` and the tensor otherwise.
std::map<std::string, std::string> parse_weight_map(const nlohmann::json& index, const std::string& index_path);

}  // namespace glmh
