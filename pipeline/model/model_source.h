// What `--model` names: a preset (tiny, small, full: deterministic random weights made on demand,
// on the device that uses them) or a pipeline checkpoint directory in the upstream layout
// (model_index.json, processor/, scheduler/, text_encoder/, transformer/, vae/,
// vision_language_encoder/). Either way the components come out as ComponentCheckpoints, so the
// models load the same way from both.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/model/glm_image_presets.h"
#include "pipeline/checkpoint/component_checkpoint.h"

namespace glmh {

class BpeTokenizer;

class ModelSource {
 public:
  // `spec` is a preset name or a directory; `preset_seed` picks a preset's weights.
  static ModelSource open(const std::string& spec, uint64_t preset_seed = 0);

  bool is_preset() const { return is_preset_; }
  // "preset tiny (seed 0)" or the directory.
  std::string description() const;
  // vision_language_encoder, text_encoder, transformer or vae.
  ComponentCheckpoint component(const std::string& subfolder) const;
  nlohmann::json scheduler_config() const;
  nlohmann::json generation_config() const;  // empty when the checkpoint has none
  BpeTokenizer tokenizer() const;            // processor/tokenizer.json

 private:
  std::string spec_;
  bool is_preset_ = false;
  uint64_t seed_ = 0;
  GlmImagePreset preset_;
};

// Writes a preset as a pipeline checkpoint in the upstream layout under `dir` (which must not
// exist): every file complete or none, the directory appearing whole by rename at the end.
// `dtype` is the stored dtype of the weights (the real checkpoint is bf16).
void write_preset_checkpoint(const std::string& preset, uint64_t seed, const std::string& dir, c10::ScalarType dtype);

}  // namespace glmh
