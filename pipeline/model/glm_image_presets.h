// The model presets: GLM-Image's pipeline layout (model_index.json, one config per component,
// the processor's tokenizer, the scheduler) at three sizes, with deterministic random weights.
//   tiny  — the whole pipeline on a CPU in seconds; head counts (DiT 8 heads, AR 8 heads / 2 KV
//           heads) admit every layout of the parallel tests (tp 2 x ulysses 4, AR tp 2); a 64-entry
//           codebook (the vocabulary is relabelled: <|dit_token_16384|> is id 64).
//   small — GLM-Image's real vocabulary and token ids, narrow and shallow: a quick GPU model.
//   full  — the real dimensions (docs/model.md#presets): 9 B AR + 7 B DiT.
// The tokenizer of every preset is byte-level (no merges: the weights are random anyway), with
// GLM-4's pre-tokenizer and special tokens at the real model's ids (tiny: relabelled).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace glmh {

struct GlmImagePreset {
  std::string name;
  nlohmann::json model_index;
  std::map<std::string, nlohmann::json> component_configs;  // sub-folder -> config.json
  nlohmann::json generation_config;  // vision_language_encoder/generation_config.json
  nlohmann::json scheduler_config;   // scheduler/scheduler_config.json
  nlohmann::json tokenizer;          // processor/tokenizer.json
  nlohmann::json tokenizer_config;   // processor/tokenizer_config.json
};

bool is_preset_name(const std::string& name);
const std::vector<std::string>& preset_names();
// Throws std::invalid_argument for a name that is not a preset.
GlmImagePreset glm_image_preset(const std::string& name);

// The weight components with their parameter tables (checkpoint tensor names and shapes), from
// each component's config: vision_language_encoder, text_encoder, transformer, vae.
std::map<std::string, std::map<std::string, std::vector<int64_t>>> preset_parameter_shapes(const GlmImagePreset& preset);

}  // namespace glmh
