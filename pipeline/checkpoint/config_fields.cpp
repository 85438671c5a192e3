#include "pipeline/checkpoint/config_fields.h"

#include <optional>

#include "pipeline/runtime/file_contents.h"

namespace glmh {

nlohmann::json read_json_file(const std::string& path) {
  const std::optional<std::string> text = file_contents(path);
  if (!text) throw CheckpointError("cannot open '" + path + "'");
  return parse_json_text(*text, path);
}

nlohmann::json parse_json_text(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError("'" + source + "' is not valid JSON: " + e.what());
  }
}

ConfigFields::ConfigFields(const nlohmann::json& j, std::string source) : j_(j), source_(std::move(source)) {
  if (!j_.is_object()) fail("expected a JSON object, got " + std::string(j_.type_name()));
}

void ConfigFields::fail(const std::string& what) const { throw CheckpointError("'" + source_ + "': " + what); }

void ConfigFields::positive_int(const char* key, int64_t& out, int64_t largest) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_number_integer() || j_[key].get<int64_t>() <= 0 || j_[key].get<int64_t>() > largest)
    fail(std::string("field '") + key + "' must be a positive integer up to " + std::to_string(largest) + ", got " +
         j_[key].dump());
  out = j_[key].get<int64_t>();
}

void ConfigFields::number(const char* key, double& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_number()) fail(std::string("field '") + key + "' must be a number, got " + j_[key].dump());
  out = j_[key].get<double>();
}

void ConfigFields::boolean(const char* key, bool& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_boolean()) fail(std::string("field '") + key + "' must be true or false, got " + j_[key].dump());
  out = j_[key].get<bool>();
}

void ConfigFields::text(const char* key, std::string& out) const {
  if (!j_.contains(key)) return;
  if (!j_[key].is_string()) fail(std::string("field '") + key + "' must be a string, got " + j_[key].dump());
  out = j_[key].get<std::string>();
}

void ConfigFields::integer_list(const char* key, std::vector<int64_t>& out, int64_t least) const {
  if (!j_.contains(key)) return;
  const nlohmann::json& v = j_[key];
  bool ok = v.is_array() && v.size() <= size_t(kMaxConfigLayers);
  for (size_t i = 0; ok && i < v.size(); ++i)
    ok = v[i].is_number_integer() && v[i].get<int64_t>() >= least && v[i].get<int64_t>() <= kMaxConfigInteger;
  if (!ok)
    fail(std::string("field '") + key + "' must be a list of at most " + std::to_string(kMaxConfigLayers) +
         " integers from " + std::to_string(least) + " to " + std::to_string(kMaxConfigInteger) + ", got " + v.dump());
  out = v.get<std::vector<int64_t>>();
}

void ConfigFields::number_list(const char* key, std::vector<double>& out) const {
  if (!j_.contains(key) || j_[key].is_null()) return;
  const nlohmann::json& v = j_[key];
  bool ok = v.is_array() && v.size() <= size_t(kMaxConfigLayers);
  for (size_t i = 0; ok && i < v.size(); ++i) ok = v[i].is_number();
  if (!ok) fail(std::string("field '") + key + "' must be a list of numbers, got " + v.dump());
  out = v.get<std::vector<double>>();
}

}  // namespace glmh
