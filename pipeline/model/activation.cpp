#include "pipeline/model/activation.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <map>

#include "pipeline/checkpoint/parameter_table.h"

namespace glmh {

Activation parse_activation(const ConfigFields& fields, const char* key, const std::string& name) {
  // transformers' ACT2FN: gelu is the erf form; gelu_new, gelu_pytorch_tanh and gelu_fast are the
  // tanh approximation (gelu_fast's constant folding aside).
  static const std::map<std::string, Activation> names = {
      {"silu", Activation::Silu},          {"swish", Activation::Silu},
      {"gelu", Activation::Gelu},          {"gelu_new", Activation::GeluTanh},
      {"gelu_pytorch_tanh", Activation::GeluTanh}, {"gelu_fast", Activation::GeluTanh},
      {"relu", Activation::Relu}};
  const auto found = names.find(name);
  if (found == names.end())
    fields.fail(std::string("field '") + key + "' = '" + name +
                "' is not supported (silu, swish, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
  return found->second;
}

Activation activation_field(const ConfigFields& fields, const char* key, Activation fallback) {
  std::string name;
  fields.text(key, name);
  return name.empty() ? fallback : parse_activation(fields, key, name);
}

at::Tensor apply_activation(Activation activation, const at::Tensor& x) {
  switch (activation) {
    case Activation::Silu: return at::silu(x);
    case Activation::Gelu: return at::gelu(x);
    case Activation::GeluTanh: return at::gelu(x, "tanh");
    case Activation::Relu: return at::relu(x);
  }
  return x;
}

}  // namespace glmh
