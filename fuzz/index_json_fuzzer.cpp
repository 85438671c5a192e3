// *.safetensors.index.json (pipeline/checkpoint/weight_map.h): every accepted shard is a plain
// file name in the index's folder.
#include "fuzz/fuzz_input.h"
#include "pipeline/checkpoint/config_fields.h"
#include "pipeline/checkpoint/weight_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  fuzz::refuse_only_with<CheckpointError>([&] {
    const std::string path = "model.safetensors.index.json";
    for (const auto& [tensor, shard] : parse_weight_map(parse_json_text(fuzz::text_of(data, size), path), path))
      fuzz::require(shard.find('/') == std::string::npos && shard != "." && shard != "..", "shard inside the folder");
  });
  return 0;
}
