#include "pipeline/executor/request.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/ivalue.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstring>
#include <mutex>

namespace glmh {

namespace {

constexpr int64_t kFormatVersion = 1;

// The frame around the pickle (docs/reliability.md#fuzzing): a magic, the payload's length and
// its FNV-1a hash. libtorch's unpickler reads its zip container past the end of a malformed
// buffer (found by fuzz/request_pickle_fuzzer), so it only ever sees bytes that are exactly what
// a glmh rank wrote.
constexpr char kFrameMagic[8] = {'G', 'L', 'M', 'H', 'R', 'Q', '1', '\n'};
constexpr size_t kFrameHeader = 24;

uint64_t fnv1a(const char* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ uint8_t(data[i])) * 1099511628211ull;
  return h;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char(v >> (8 * i)));
}

uint64_t get_u64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | uint8_t(in[at + i]);
  return v;
}

std::string framed(const std::vector<char>& payload) {
  std::string out(kFrameMagic, sizeof kFrameMagic);
  put_u64(out, payload.size());
  put_u64(out, fnv1a(payload.data(), payload.size()));
  out.append(payload.begin(), payload.end());
  return out;
}

std::vector<char> unframed(const std::string& bytes) {
  if (bytes.size() < kFrameHeader || std::memcmp(bytes.data(), kFrameMagic, sizeof kFrameMagic) != 0)
    throw RequestError("serialised request: not a glmh request frame (" + std::to_string(bytes.size()) + " bytes)");
  const uint64_t size = get_u64(bytes, 8);
  if (size != bytes.size() - kFrameHeader)
    throw RequestError("serialised request: the frame says " + std::to_string(size) + " bytes, " +
                       std::to_string(bytes.size() - kFrameHeader) + " arrived");
  if (get_u64(bytes, 16) != fnv1a(bytes.data() + kFrameHeader, size))
    throw RequestError("serialised request: the payload does not match its checksum");
  return std::vector<char>(bytes.begin() + kFrameHeader, bytes.end());
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

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

std::string Request::serialize(bool include_rank_local) const {
  c10::List<std::string> names, timing_stages;
  c10::List<int64_t> kinds, scopes;
  c10::List<bool> on_accelerator;
  c10::impl::GenericList values(c10::AnyType::get());
  c10::List<double> timing_seconds;
  for (const auto& [name, f] : fields_) {
    if (!include_rank_local && f.scope == FieldScope::RankLocal) continue;
    names.push_back(name);
    kinds.push_back(static_cast<int64_t>(f.value.index()));
    scopes.push_back(f.scope == FieldScope::Shared ? 0 : 1);
    bool accel = false;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, at::Tensor>) {
            accel = !v.device().is_cpu();
            // Pickling writes a tensor's whole storage: copy views (even contiguous ones) into
            // storage of their own.
            at::Tensor t = v.detach().cpu().contiguous();
            if (t.storage_offset() != 0 || t.storage().nbytes() != size_t(t.numel()) * t.element_size())
              t = t.clone();
            values.push_back(c10::IValue(t));
          } else {
            values.push_back(c10::IValue(v));
          }
        },
        f.value);
    on_accelerator.push_back(accel);
  }
  c10::IValue generator;  // None when absent
  if (generator_) {
    generator = c10::ivalue::Tuple::create(
        {c10::IValue(std::string(c10::DeviceTypeName(generator_->device().type(), true))),
         c10::IValue(generator_state(*generator_))});
  }
  for (const auto& t : timings_) {
    timing_stages.push_back(t.stage);
    timing_seconds.push_back(t.seconds);
  }
  const auto root = c10::ivalue::Tuple::create(
      {c10::IValue(kFormatVersion), c10::IValue(names), c10::IValue(kinds), c10::IValue(scopes),
       c10::IValue(on_accelerator), c10::IValue(values), generator, c10::IValue(timing_stages),
       c10::IValue(timing_seconds)});
  return framed(torch::jit::pickle_save(c10::IValue(root)));
}

Request Request::deserialize(const std::string& bytes, const c10::Device& device) {
  c10::IValue root;
  try {
    root = torch::jit::pickle_load(unframed(bytes));
  } catch (const c10::Error& e) {
    throw RequestError(std::string("cannot decode a serialised request: ") + first_line(e.what_without_backtrace()));
  }
  // A frame from another glmh version can hold other types or lengths: one clear error, whatever
  // accessor meets them first.
  try {
    return decoded(root, device);
  } catch (const c10::Error& e) {
    throw RequestError(std::string("serialised request has an unknown layout: ") + first_line(e.what_without_backtrace()));
  } catch (const std::out_of_range& e) {
    throw RequestError(std::string("serialised request has an unknown layout: ") + e.what());
  }
}

Request Request::decoded(const c10::IValue& root, const c10::Device& device) {
  if (!root.isTuple() || root.toTupleRef().elements().size() != 9 ||
      root.toTupleRef().elements()[0].toInt() != kFormatVersion)
    throw RequestError("serialised request has an unknown layout");
  const auto& e = root.toTupleRef().elements();
  const auto names = e[1].toList();
  const auto kinds = e[2].toIntList();
  const auto scopes = e[3].toIntList();
  const auto accel = e[4].toBoolList();
  const auto values = e[5].toList();
  Request r;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string name = names.get(i).toStringRef();
    const c10::IValue v = values.get(i);
    const FieldScope scope = scopes.get(i) == 0 ? FieldScope::Shared : FieldScope::RankLocal;
    switch (kinds.get(i)) {
      case 0: {
        at::Tensor t = v.toTensor();
        r.set(name, accel.get(i) ? t.to(device) : t, scope);
        break;
      }
      case 1: r.set(name, v.toInt(), scope); break;
      case 2: r.set(name, v.toDouble(), scope); break;
      case 3: r.set(name, v.toBool(), scope); break;
      case 4: r.set(name, v.toStringRef(), scope); break;
      default: throw RequestError("serialised request field '" + name + "' has an unknown kind");
    }
  }
  if (!e[6].isNone()) {
    const auto& g = e[6].toTupleRef().elements();
    const bool cpu = g[0].toStringRef() == "cpu";
    if (!cpu && device.is_cpu())
      throw RequestError("serialised request carries a " + g[0].toStringRef() +
                         " generator but the receiving rank works on the CPU");
    at::Generator gen = make_generator(cpu ? c10::Device(c10::kCPU) : device, 0);
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(g[1].toTensor());
    }
    r.generator_ = std::move(gen);
  }
  const auto stages = e[7].toList();
  const auto seconds = e[8].toDoubleList();
  for (size_t i = 0; i < stages.size(); ++i)
    r.timings_.push_back({stages.get(i).toStringRef(), seconds.get(i)});
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
