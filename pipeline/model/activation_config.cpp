#include "pipeline/model/activation_config.h"

#include <map>

#include "pipeline/checkpoint/config_fields.h"

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

}  // namespace glmh
