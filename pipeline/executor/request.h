// The state one generation request carries through the pipeline's stages.
//
// Named fields (tensors, integers, floats, booleans, strings), a random generator, and the time
// each stage took. A field is either shared (broadcast to the ranks that receive this request) or
// rank-local (kept by a rank when a CFG_PARALLEL broadcast replaces the shared fields).
// serialize()/deserialize() use a safetensors image (request.cpp) and round-trip every field exactly,
// including the generator's full state, not just its seed.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "pipeline/runtime/printable_text.h"

namespace glmh {

// One line; outside text (field names from another rank) escaped.
class RequestError : public std::runtime_error {
 public:
  explicit RequestError(const std::string& what) : std::runtime_error(printable(what, 1000)) {}
};

enum class FieldScope { Shared, RankLocal };

struct StageTiming {
  std::string stage;
  double seconds = 0;  // wall clock, device-synchronised on GPU
  bool operator==(const StageTiming& o) const { return stage == o.stage && seconds == o.seconds; }
};

class Request {
 public:
  using Value = std::variant<at::Tensor, int64_t, double, bool, std::string>;

  void set(const std::string& name, Value value, FieldScope scope = FieldScope::Shared);
  void set_tensor(const std::string& name, at::Tensor t, FieldScope scope = FieldScope::Shared) {
    set(name, Value(std::move(t)), scope);
  }
  void set_int(const std::string& name, int64_t v) { set(name, Value(v)); }
  void set_double(const std::string& name, double v) { set(name, Value(v)); }
  void set_bool(const std::string& name, bool v) { set(name, Value(v)); }
  void set_string(const std::string& name, std::string v) { set(name, Value(std::move(v))); }

  bool has(const std::string& name) const { return fields_.count(name) != 0; }
  void erase(const std::string& name) { fields_.erase(name); }
  // Typed access; throws RequestError naming the field and both types on a mismatch.
  const at::Tensor& tensor(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  FieldScope scope(const std::string& name) const;
  std::vector<std::string> field_names() const;

  // The request's random stream. Stages draw from it; it travels with its full state.
  void set_generator(at::Generator generator) { generator_ = std::move(generator); }
  bool has_generator() const { return generator_.has_value(); }
  at::Generator& generator();
  // A generator on `device` seeded with `seed` (CPU, or a clone of the CUDA default generator).
  static at::Generator make_generator(const c10::Device& device, uint64_t seed);

  void add_timing(const std::string& stage, double seconds) { timings_.push_back({stage, seconds}); }
  const std::vector<StageTiming>& timings() const { return timings_; }

  // Tensors are written from the CPU; deserialize() puts each tensor that lived on an accelerator
  // on `device` (the receiving rank's own device), CPU tensors stay on the CPU, and the generator
  // is rebuilt on the device type it came from.
  // Without `include_rank_local`, rank-local fields are left out (a CFG_PARALLEL broadcast).
  std::string serialize(bool include_rank_local = true) const;
  static Request deserialize(const std::string& bytes, const c10::Device& device);

  // Replaces this request's shared fields, generator and timings with `other`'s, keeping this
  // request's rank-local fields (what a CFG_PARALLEL broadcast does on a receiving rank).
  void adopt_shared(Request other);

  // Field-by-field comparison: empty when equal; else one line per difference naming the field.
  // Tensors and floats compare by dtype, shape and exact bits (NaN equals NaN); timings are not compared
  // unless `compare_timings`.
  std::vector<std::string> differences(const Request& other, bool compare_timings = false) const;

 private:
  struct Field {
    Value value;
    FieldScope scope = FieldScope::Shared;
  };
  const Field& field(const std::string& name) const;

  std::map<std::string, Field> fields_;
  std::optional<at::Generator> generator_;
  std::vector<StageTiming> timings_;
};

}  // namespace glmh
