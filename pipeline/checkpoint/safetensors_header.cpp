#include "pipeline/checkpoint/safetensors_header.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pipeline/checkpoint/checkpoint_error.h"

namespace glmh {

namespace {

// Upstream refuses headers above 100 MB; a real 9B checkpoint shard's header is < 1 MB.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;
// No tensor (nor dimension) can hold more bytes than this; it keeps every product below 2^63.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 62;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw CheckpointError("safetensors file '" + path + "': " + what);
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size,
                             const std::string& path) {
  const std::string where = "tensor '" + name + "': ";
  if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
    fail(path, where + "expected an object with dtype, shape and data_offsets");
  SafetensorsEntry e;
  e.name = name;
  if (!v["dtype"].is_string()) fail(path, where + "dtype is not a string");
  e.dtype = v["dtype"].get<std::string>();
  const int64_t esize = safetensors_element_size(e.dtype);
  if (esize == 0) fail(path, where + "unsupported dtype '" + e.dtype + "'");
  if (!v["shape"].is_array()) fail(path, where + "shape is not an array");
  uint64_t numel = 1;
  for (const auto& d : v["shape"]) {
    if (!d.is_number_unsigned()) fail(path, where + "shape has a non-integer or negative dimension");
    const uint64_t dim = d.get<uint64_t>();
    // Each dimension on its own too: after a 0 the product stays 0 whatever follows.
    if (dim > kMaxTensorBytes || (dim > 0 && numel > kMaxTensorBytes / dim)) fail(path, where + "shape overflows");
    numel *= dim;
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  if (numel > kMaxTensorBytes / uint64_t(esize)) fail(path, where + "shape overflows");
  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(path, where + "data_offsets must be two non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size)
    fail(path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] outside the " +
                   std::to_string(data_size) + "-byte data buffer");
  if (e.end - e.begin != numel * static_cast<uint64_t>(esize))
    fail(path, where + "data_offsets span " + std::to_string(e.end - e.begin) + " bytes, but " + e.dtype + " with " +
                   std::to_string(numel) + " elements needs " + std::to_string(numel * esize));
  return e;
}

}  // namespace

int64_t safetensors_element_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "BF16" || dtype == "F16") return 2;
  if (dtype == "I64" || dtype == "F64") return 8;
  if (dtype == "U8" || dtype == "BOOL" || dtype == "I8") return 1;
  return 0;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& path) {
  if (size < 8) fail(path, "truncated: " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_len) + " exceeds the " + std::to_string(kMaxHeaderBytes) +
                   "-byte limit");
  if (header_len > size - 8)
    fail(path, "truncated: header length " + std::to_string(header_len) + " but only " + std::to_string(size - 8) +
                   " bytes follow");
  SafetensorsHeader out;
  out.data_offset = 8 + header_len;
  const uint64_t data_size = size - out.data_offset;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    SafetensorsEntry e = parse_entry(it.key(), it.value(), data_size, path);
    spans.emplace_back(e.begin, e.end);
    out.entries[it.key()] = std::move(e);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second)
      fail(path, "tensor data regions overlap at byte " + std::to_string(spans[i].first));
  return out;
}

}  // namespace glmh
