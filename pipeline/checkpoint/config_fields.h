// Reading a component's JSON files (config.json, an index, a processor config) with upstream's
// field names. Torch-free, so that these parsers are fuzzed on their own (fuzz/).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/checkpoint/checkpoint_error.h"

namespace glmh {

// The JSON document in `path`; CheckpointError naming the file when it cannot be read or parsed.
nlohmann::json read_json_file(const std::string& path);
// The JSON document `text` read from `source`; CheckpointError naming it when it does not parse.
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// The largest value a positive integer field may take: above every size, id and pixel count of a
// real config, and small enough that the products the models form from these fields stay in int64.
constexpr int64_t kMaxConfigInteger = int64_t(1) << 24;
// The most layers (blocks, list entries) a config may ask for: above every real model's, and few
// enough that its parameter table is small (a config naming 2 million layers took 2 GB to refuse).
constexpr int64_t kMaxConfigLayers = 1024;

// config.json fields: absent keeps the default; a wrong type or value throws CheckpointError
// naming `source` (the file) and the field.
class ConfigFields {
 public:
  // `j` must be a JSON object (CheckpointError naming `source` otherwise).
  ConfigFields(const nlohmann::json& j, std::string source);
  void positive_int(const char* key, int64_t& out, int64_t largest = kMaxConfigInteger) const;
  void number(const char* key, double& out) const;
  void boolean(const char* key, bool& out) const;
  void text(const char* key, std::string& out) const;
  // A list of at most kMaxConfigLayers integers, each at least `least`; a list of numbers (null
  // counts as absent).
  void integer_list(const char* key, std::vector<int64_t>& out, int64_t least) const;
  void number_list(const char* key, std::vector<double>& out) const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  const nlohmann::json& j_;
  std::string source_;
};

}  // namespace glmh
