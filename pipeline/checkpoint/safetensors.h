// Reading and writing the safetensors format (Hugging Face checkpoints).
//
// The layout and its checks: safetensors_header.h. The reader maps the file and validates
// everything before any tensor is handed out; every error names the file and, where there is one,
// the tensor, on one line.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/checkpoint/checkpoint_error.h"
#include "pipeline/checkpoint/safetensors_header.h"

namespace glmh {

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws CheckpointError naming the file (and tensor) on bad input.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A CPU tensor that views the mapped file (read-only; keeps the mapping alive). Clone it
  // before writing to it.
  at::Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data buffer
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<SafetensorsFile> self_;
};

// Writes `tensors` (any device, any layout; written contiguous, little-endian) to `path`
// atomically: a temporary name in the same directory, then rename.
void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The same as bytes in memory, and back: every tensor copied out of `bytes` (CPU, owning its
// memory), the header's __metadata__ into `metadata`. A checked header (safetensors_header.h)
// first: CheckpointError naming `source` otherwise.
std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
std::map<std::string, at::Tensor> tensors_from_safetensors_bytes(const std::string& bytes, const std::string& source,
                                                                 std::map<std::string, std::string>& metadata);

// The safetensors dtype string of a scalar type, and back; throw CheckpointError for others.
std::string safetensors_dtype(c10::ScalarType type);
c10::ScalarType scalar_type_of(const std::string& dtype);

}  // namespace glmh
