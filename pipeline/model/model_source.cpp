#include "pipeline/model/model_source.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>

#include "pipeline/checkpoint/preset_weights.h"
#include "pipeline/model/ar/bpe_tokenizer.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

const char* const kWeightComponents[] = {"vision_language_encoder", "text_encoder", "transformer", "vae"};

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out.flush()) throw CheckpointError("cannot write '" + path + "'");
}

}  // namespace

ModelSource ModelSource::open(const std::string& spec, uint64_t preset_seed) {
  ModelSource s;
  s.spec_ = spec;
  if (is_preset_name(spec)) {
    s.is_preset_ = true;
    s.seed_ = preset_seed;
    s.preset_ = glm_image_preset(spec);
    return s;
  }
  if (!posix_fs::is_directory(spec))
    throw CheckpointError("--model '" + spec + "' is neither a preset (tiny, small, full) nor a checkpoint directory");
  if (!posix_fs::exists(spec + "/model_index.json"))
    throw CheckpointError("checkpoint '" + spec + "': no model_index.json (expected a GLM-Image pipeline directory)");
  return s;
}

std::string ModelSource::description() const {
  return is_preset_ ? "preset " + spec_ + " (seed " + std::to_string(seed_) + ")" : spec_;
}

ComponentCheckpoint ModelSource::component(const std::string& subfolder) const {
  if (!is_preset_) return ComponentCheckpoint::open(spec_ + "/" + subfolder);
  const auto shapes = preset_parameter_shapes(preset_);
  const auto it = shapes.find(subfolder);
  if (it == shapes.end()) throw CheckpointError("preset " + spec_ + ": no weight component '" + subfolder + "'");
  return ComponentCheckpoint::generated(subfolder, preset_.component_configs.at(subfolder), it->second, seed_);
}

nlohmann::json ModelSource::scheduler_config() const {
  return is_preset_ ? preset_.scheduler_config : read_json_file(spec_ + "/scheduler/scheduler_config.json");
}

nlohmann::json ModelSource::generation_config() const {
  if (is_preset_) return preset_.generation_config;
  const std::string path = spec_ + "/vision_language_encoder/generation_config.json";
  return posix_fs::exists(path) ? read_json_file(path) : nlohmann::json::object();
}

BpeTokenizer ModelSource::tokenizer() const {
  return is_preset_ ? BpeTokenizer::from_json(preset_.tokenizer, "preset " + spec_ + " processor/tokenizer.json")
                    : BpeTokenizer::load(spec_ + "/processor/tokenizer.json");
}

void write_preset_checkpoint(const std::string& preset_name, uint64_t seed, const std::string& dir, c10::ScalarType dtype) {
  if (posix_fs::exists(dir)) throw CheckpointError("checkpoint init: '" + dir + "' already exists");
  const GlmImagePreset preset = glm_image_preset(preset_name);
  const std::string parent = posix_fs::parent_path(dir);
  posix_fs::make_directories(parent.empty() ? "." : parent);
  const std::string tmp = posix_fs::make_temp_directory(parent.empty() ? "." : parent, ".glmh-init-");
  try {
    write_json(tmp + "/model_index.json", preset.model_index);
    const auto shapes = preset_parameter_shapes(preset);
    for (const char* component : kWeightComponents) {
      std::map<std::string, at::Tensor> tensors;
      for (const auto& [name, shape] : shapes.at(component))
        tensors[name] = preset_parameter(component, name, shape, seed, c10::Device(c10::kCPU), dtype);
      const bool diffusers = std::string(component) == "transformer" || std::string(component) == "vae";
      write_component(tmp + "/" + component, preset.component_configs.at(component), tensors,
                      diffusers ? "diffusion_pytorch_model" : "model");
    }
    write_json(tmp + "/vision_language_encoder/generation_config.json", preset.generation_config);
    posix_fs::make_directories(tmp + "/scheduler");
    write_json(tmp + "/scheduler/scheduler_config.json", preset.scheduler_config);
    posix_fs::make_directories(tmp + "/processor");
    write_json(tmp + "/processor/tokenizer.json", preset.tokenizer);
    write_json(tmp + "/processor/tokenizer_config.json", preset.tokenizer_config);
    // The glyph encoder's ByT5 tokenizer is pure byte arithmetic; its folder carries the config.
    posix_fs::make_directories(tmp + "/tokenizer");
    write_json(tmp + "/tokenizer/tokenizer_config.json", {{"tokenizer_class", "ByT5Tokenizer"}, {"extra_ids", 0}});
    if (std::rename(tmp.c_str(), dir.c_str()) != 0) throw CheckpointError("cannot rename '" + tmp + "' to '" + dir + "'");
  } catch (...) {
    posix_fs::remove_tree(tmp);
    throw;
  }
}

}  // namespace glmh
