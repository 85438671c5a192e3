// The safetensors header: an 8-byte little-endian length N, then N bytes of JSON
// {"__metadata__": {str: str}, NAME: {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}},
// then the data buffer, which the offsets index. Parsed and validated here without libtorch, so
// that it is fuzzed on its own (fuzz/); safetensors.h maps files and hands out tensors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace glmh {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", "F64", "I64", "I32", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data buffer
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data buffer starts in the file: 8 + N
};

// The header of a whole file's `size` bytes at `bytes`. Everything is checked before it is
// returned: the length against the file and a 100 MB limit, the JSON, each tensor's dtype, shape
// (non-negative, its byte count below 2^62) and offsets (inside the buffer, matching the shape,
// not overlapping another tensor's). CheckpointError "safetensors file 'PATH': ..." naming the
// tensor otherwise.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& path);

// Bytes per element of a safetensors dtype string; 0 for one glmh does not read.
int64_t safetensors_element_size(const std::string& dtype);

}  // namespace glmh
