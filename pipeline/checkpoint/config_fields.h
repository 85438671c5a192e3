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

// config.json fields: absent keeps the default; a wrong type or value throws CheckpointError
// naming `source` (the file) and the field.
class ConfigFields {
 public:
  // `j` must be a JSON object (CheckpointError naming `source` otherwise).
  ConfigFields(const nlohmann::json& j, std::string source);
  void positive_int(const char* key, int64_t& out) const;
  void number(const char* key, double& out) const;
  void boolean(const char* key, bool& out) const;
  void text(const char* key, std::string& out) const;
  // A list of integers, each at least `least`; a list of numbers (null counts as absent).
  void integer_list(const char* key, std::vector<int64_t>& out, int64_t least) const;
  void number_list(const char* key, std::vector<double>& out) const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  const nlohmann::json& j_;
  std::string source_;
};

}  // namespace glmh
