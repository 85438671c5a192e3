#include "pipeline/executor/request.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <mutex>

#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/error_text.h"

namespace glmh {

namespace {

constexpr int64_t kFormatVersion = 2;

// A double as its exact bits, and back: JSON numbers lose NaN payloads, infinities and -0.
uint64_t bits_of(double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

double double_of(uint64_t bits) {
  double v = 0;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

const char* kind_name(const Request::Value& v) {
  switch (v.index()) {
    case 0: return "tensor";
    case 1: return "int";
    case 2: return "double";
    case 3: return "bool";
    case 4: return "string";
  }
  return "?";
}

template <class T>
const char* type_name();
template <> const char* type_name<at::Tensor>() { return "tensor"; }
template <> const char* type_name<int64_t>() { return "int"; }
template <> const char* type_name<double>() { return "double"; }
template <> const char* type_name<bool>() { return "bool"; }
template <> const char* type_name<std::string>() { return "string"; }

template <class T>
const T& typed(const Request::Value& v, const std::string& name) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw RequestError(std::string("request field '") + name + "' holds " + kind_name(v) +
                     ", expected " + type_name<T>());
}

at::Tensor generator_state(at::Generator g) {  // a handle: copies share the state
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.cpu().contiguous(), cb = b.cpu().contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

std::string describe_tensor(const at::Tensor& t) {
  std::string s = std::string(c10::toString(t.scalar_type())) + "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "] on " + t.device().str();
}

}  // namespace

void Request::set(const std::string& name, Value value, FieldScope scope) {
  if (name.empty()) throw RequestError("request field names must not be empty");
  if (const auto* t = std::get_if<at::Tensor>(&value); t && !t->defined())
    throw RequestError("request field '" + name + "': tensor is undefined");
  fields_[name] = Field{std::move(value), scope};
}

const Request::Field& Request::field(const std::string& name) const {
  const auto it = fields_.find(name);
  if (it == fields_.end()) throw RequestError("request has no field '" + name + "'");
  return it->second;
}

const at::Tensor& Request::tensor(const std::string& name) const {
  return typed<at::Tensor>(field(name).value, name);
}
int64_t Request::get_int(const std::string& name) const { return typed<int64_t>(field(name).value, name); }
double Request::get_double(const std::string& name) const { return typed<double>(field(name).value, name); }
bool Request::get_bool(const std::string& name) const { return typed<bool>(field(name).value, name); }
const std::string& Request::get_string(const std::string& name) const {
  return typed<std::string>(field(name).value, name);
}
FieldScope Request::scope(const std::string& name) const { return field(name).scope; }

std::vector<std::string> Request::field_names() const {
  std::vector<std::string> names;
  for (const auto& [name, f] : fields_) names.push_back(name);
  return names;
}

at::Generator& Request::generator() {
  if (!generator_) throw RequestError("request has no random generator");
  return *generator_;
}

at::Generator Request::make_generator(const c10::Device& device, uint64_t seed) {
  if (device.is_cpu()) return at::detail::createCPUGenerator(seed);
  // A fresh generator of the device's type, independent of the device's default one.
  at::Generator g = at::globalContext().defaultGenerator(device).clone();
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
  return g;
}

// The wire form is a safetensors image (docs/reliability.md#fuzzing): every tensor field, string
// field and the generator's state as a tensor, everything else in one JSON document in the header's
// metadata. Its reader is glmh's own fuzzed header parser; libtorch's unpickler, which reads past a
// malformed buffer and leaks on one, never sees bytes from another process.
std::string Request::serialize(bool include_rank_local) const {
  std::map<std::string, at::Tensor> tensors;
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& named : fields_) {
    const std::string& name = named.first;  // a plain reference: lambdas below capture it
    const Field& f = named.second;
    if (!include_rank_local && f.scope == FieldScope::RankLocal) continue;
    nlohmann::json entry = {{"name", name}, {"kind", kind_name(f.value)},
                            {"scope", f.scope == FieldScope::Shared ? "shared" : "rank_local"}};
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, at::Tensor>) {
            entry["accelerator"] = !v.device().is_cpu();
            tensors["field:" + name] = v;
          } else if constexpr (std::is_same_v<T, std::string>) {
            tensors["field:" + name] = at::from_blob(const_cast<char*>(v.data()), {int64_t(v.size())}, at::kByte).clone();
          } else if constexpr (std::is_same_v<T, double>) {
            entry["bits"] = bits_of(v);
          } else {
            entry["value"] = v;
          }
        },
        f.value);
    fields.push_back(std::move(entry));
  }
  nlohmann::json doc = {{"version", kFormatVersion}, {"fields", std::move(fields)}, {"timings", nlohmann::json::array()}};
  if (generator_) {
    doc["generator"] = c10::DeviceTypeName(generator_->device().type(), true);
    tensors["generator_state"] = generator_state(*generator_);
  }
  for (const auto& t : timings_) doc["timings"].push_back({t.stage, bits_of(t.seconds)});
  try {
    return safetensors_bytes(tensors, {{"glmh_request", doc.dump()}});
  } catch (const nlohmann::json::exception& e) {
    throw RequestError(std::string("cannot serialise the request: ") + e.what());  // a name that is not UTF-8
  } catch (const CheckpointError& e) {
    throw RequestError(std::string("cannot serialise the request: ") + e.what());  // a dtype safetensors lacks
  }
}

Request Request::deserialize(const std::string& bytes, const c10::Device& device) {
  std::map<std::string, std::string> metadata;
  std::map<std::string, at::Tensor> tensors;
  try {
    tensors = tensors_from_safetensors_bytes(bytes, "serialised request", metadata);
  } catch (const CheckpointError& e) {
    throw RequestError(e.what());
  }
  const auto fail = [](const std::string& what) { return RequestError("serialised request: " + what); };
  if (!metadata.count("glmh_request")) throw fail("no glmh_request document in its metadata");
  const nlohmann::json doc = nlohmann::json::parse(metadata.at("glmh_request"), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || doc.value("version", nlohmann::json()) != kFormatVersion)
    throw fail("not a version " + std::to_string(kFormatVersion) + " glmh request document");
  const auto tensor_named = [&](const std::string& key) -> at::Tensor& {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw fail("tensor '" + key + "' is missing");
    return it->second;
  };
  Request r;
  if (!doc.contains("fields") || !doc["fields"].is_array()) throw fail("no list of fields");
  for (const auto& e : doc["fields"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("kind") || !e["kind"].is_string() ||
        !e.contains("scope") || !e["scope"].is_string())
      throw fail("a field without name, kind and scope");
    const std::string name = e["name"].get<std::string>(), kind = e["kind"].get<std::string>();
    const std::string scope_text = e["scope"].get<std::string>();
    if (scope_text != "shared" && scope_text != "rank_local")
      throw fail("field '" + name + "': scope '" + scope_text + "'");
    const FieldScope scope = scope_text == "shared" ? FieldScope::Shared : FieldScope::RankLocal;
    const auto value = [&](bool (nlohmann::json::*is)() const noexcept, const char* key) -> const nlohmann::json& {
      if (!e.contains(key) || !(e[key].*is)()) throw fail("field '" + name + "' has no " + kind + " value");
      return e[key];
    };
    if (kind == "tensor") {
      const bool accelerator = e.value("accelerator", false) == true;
      at::Tensor& t = tensor_named("field:" + name);
      r.set(name, accelerator ? t.to(device) : t, scope);
    } else if (kind == "string") {
      const at::Tensor& t = tensor_named("field:" + name);
      if (t.scalar_type() != at::kByte || t.dim() != 1) throw fail("field '" + name + "' is not a byte string");
      r.set(name, std::string(static_cast<const char*>(t.data_ptr()), size_t(t.numel())), scope);
    } else if (kind == "int") {
      r.set(name, value(&nlohmann::json::is_number_integer, "value").get<int64_t>(), scope);
    } else if (kind == "bool") {
      r.set(name, value(&nlohmann::json::is_boolean, "value").get<bool>(), scope);
    } else if (kind == "double") {
      r.set(name, double_of(value(&nlohmann::json::is_number_unsigned, "bits").get<uint64_t>()), scope);
    } else {
      throw fail("field '" + name + "' has the unknown kind '" + kind + "'");
    }
  }
  if (doc.contains("generator")) {
    if (!doc["generator"].is_string()) throw fail("the generator's device is not a name");
    const std::string type = doc["generator"].get<std::string>();
    const bool cpu = type == "cpu";
    if (!cpu && device.is_cpu())
      throw RequestError("serialised request carries a " + type +
                         " generator but the receiving rank works on the CPU");
    at::Generator gen = make_generator(cpu ? c10::Device(c10::kCPU) : device, 0);
    try {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(tensor_named("generator_state"));
    } catch (const c10::Error& e) {
      throw fail("the generator's state does not fit a " + type + " generator: " +
                 one_line_error(e));
    }
    r.generator_ = std::move(gen);
  }
  if (!doc.contains("timings") || !doc["timings"].is_array()) throw fail("no list of timings");
  for (const auto& t : doc["timings"]) {
    if (!t.is_array() || t.size() != 2 || !t[0].is_string() || !t[1].is_number_unsigned())
      throw fail("a timing is not [stage, seconds]");
    r.timings_.push_back({t[0].get<std::string>(), double_of(t[1].get<uint64_t>())});
  }
  return r;
}

void Request::adopt_shared(Request other) {
  for (auto& [name, f] : fields_)
    if (f.scope == FieldScope::RankLocal) other.fields_[name] = std::move(f);
  fields_ = std::move(other.fields_);
  generator_ = std::move(other.generator_);
  timings_ = std::move(other.timings_);
}

std::vector<std::string> Request::differences(const Request& other, bool compare_timings) const {
  std::vector<std::string> out;
  for (const auto& [name, f] : fields_) {
    const auto it = other.fields_.find(name);
    if (it == other.fields_.end()) {
      out.push_back("field '" + name + "' missing on the other side");
      continue;
    }
    const Value& a = f.value;
    const Value& b = it->second.value;
    if (a.index() != b.index()) {
      out.push_back("field '" + name + "': " + kind_name(a) + " vs " + kind_name(b));
    } else if (const auto* ta = std::get_if<at::Tensor>(&a)) {
      const auto& tb = std::get<at::Tensor>(b);
      if (!same_bits(*ta, tb)) {
        std::string what = describe_tensor(*ta) + " vs " + describe_tensor(tb);
        if (ta->scalar_type() == tb.scalar_type() && ta->sizes() == tb.sizes()) {
          const auto ne = (ta->cpu() != tb.cpu()).sum().item<int64_t>();
          what += ", " + std::to_string(ne) + " of " + std::to_string(ta->numel()) + " elements differ";
        }
        out.push_back("field '" + name + "': " + what);
      }
    } else if (!std::visit(
                   [&](const auto& va) {
                     using T = std::decay_t<decltype(va)>;
                     if constexpr (std::is_same_v<T, at::Tensor>) return true;
                     else if constexpr (std::is_same_v<T, double>)
                       return std::memcmp(&va, &std::get<T>(b), sizeof(double)) == 0;
                     else return va == std::get<T>(b);
                   },
                   a)) {
      out.push_back("field '" + name + "' differs");
    }
    if (f.scope != it->second.scope) out.push_back("field '" + name + "': scope differs");
  }
  for (const auto& [name, f] : other.fields_)
    if (!fields_.count(name)) out.push_back("field '" + name + "' missing on this side");
  if (generator_.has_value() != other.generator_.has_value()) {
    out.push_back("generator present on one side only");
  } else if (generator_ && (generator_->device().type() != other.generator_->device().type() ||
                            !same_bits(generator_state(*generator_),
                                       generator_state(*other.generator_)))) {
    out.push_back("generator state differs");
  }
  if (compare_timings && timings_ != other.timings_) out.push_back("timings differ");
  return out;
}

}  // namespace glmh
