// safetensors header and offsets (pipeline/checkpoint/safetensors_header.h): every accepted entry
// lies inside the data buffer with exactly its shape's bytes.
#include "fuzz/fuzz_input.h"
#include "pipeline/checkpoint/checkpoint_error.h"
#include "pipeline/checkpoint/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  fuzz::refuse_only_with<CheckpointError>([&] {
    const SafetensorsHeader h = parse_safetensors_header(data, size, "input.safetensors");
    fuzz::require(h.data_offset >= 8 && h.data_offset <= size, "data offset inside the file");
    for (const auto& [name, e] : h.entries) {
      fuzz::require(e.begin <= e.end && e.end <= size - h.data_offset, "entry inside the data buffer");
      uint64_t numel = 1;
      for (int64_t d : e.shape) {
        fuzz::require(d >= 0, "non-negative dimension");
        numel *= uint64_t(d);
      }
      fuzz::require(numel * uint64_t(safetensors_element_size(e.dtype)) == e.end - e.begin, "bytes match the shape");
    }
  });
  return 0;
}
