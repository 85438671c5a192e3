// The activation functions a component's config.json may name (Hugging Face's ACT2FN names, which
// diffusers' configs use too), so that a config naming another one is followed or refused instead
// of silently computed with the function GLM-Image happens to use (docs/model.md#config-fields).
// Torch-free: the config parsers are fuzzed on their own (fuzz/); activation.h applies them.
#pragma once

#include <string>

namespace glmh {

class ConfigFields;

enum class Activation { Silu, Gelu, GeluTanh, Relu };

// `key` of the config read through `fields`: absent gives `fallback`; a name outside
// silu/swish, gelu, gelu_new/gelu_pytorch_tanh/gelu_fast, relu is refused (CheckpointError naming
// the file, the field and the supported names).
Activation activation_field(const ConfigFields& fields, const char* key, Activation fallback);
Activation parse_activation(const ConfigFields& fields, const char* key, const std::string& name);

}  // namespace glmh
