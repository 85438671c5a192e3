#include "pipeline/glm_image/glm_image_models.h"

#include "pipeline/checkpoint/parameter_table.h"
#include "pipeline/runtime/communicator.h"

namespace glmh {

GlmImageModels::GlmImageModels(ModelSource source, const c10::Device& device, c10::ScalarType dtype)
    : source_(std::move(source)), device_(device), dtype_(dtype) {}

void GlmImageModels::preload(Which which) {
  if (which.ar) {
    ar();
    token_ids();
    tokenizer();
  }
  if (which.vision) vision();
  if (which.glyph) glyph_encoder();
  if (which.dit) dit();
  if (which.vae) vae();
  scheduler_config();
}

const GlmImageTextModel& GlmImageModels::ar() {
  if (!ar_) ar_.emplace(GlmImageTextModel::load(source_.component("vision_language_encoder"), device_, dtype_));
  if (ar_tp_ && ar_->tp_size() != ar_tp_->size()) ar_.emplace(ar_->shard_for_tp(*ar_tp_));
  return *ar_;
}

const GlmImageTextConfig& GlmImageModels::ar_config() {
  if (!ar_config_) {  // the checkpoint's (a TP shard's own config counts its local heads)
    const ComponentCheckpoint c = source_.component("vision_language_encoder");
    ar_config_ = GlmImageTextConfig::from_json(c.config(), c.dir() + "/config.json");
  }
  return *ar_config_;
}

void GlmImageModels::set_ar_tensor_parallel(Communicator* tp) {
  if (ar_ && ar_->tp_size() != 1) throw std::logic_error("the AR model is already sharded for tensor parallelism");
  ar_tp_ = tp && tp->size() > 1 ? tp : nullptr;
}

const GlmImageTokenIds& GlmImageModels::token_ids() {
  if (!token_ids_) {
    const ComponentCheckpoint c = source_.component("vision_language_encoder");
    token_ids_ = GlmImageTokenIds::from_json(c.config(), c.dir() + "/config.json");
  }
  return *token_ids_;
}

const GlmImageVisionEncoder& GlmImageModels::vision() {
  if (!vision_) vision_.emplace(GlmImageVisionEncoder::load(source_.component("vision_language_encoder"), device_, dtype_));
  return *vision_;
}

const BpeTokenizer& GlmImageModels::tokenizer() {
  if (!tokenizer_) tokenizer_.emplace(source_.tokenizer());
  return *tokenizer_;
}

const T5Encoder& GlmImageModels::glyph_encoder() {
  if (!glyph_) glyph_.emplace(T5Encoder::load(source_.component("text_encoder"), device_, dtype_));
  return *glyph_;
}

const GlmImageDiT& GlmImageModels::dit() {
  if (!dit_) dit_.emplace(GlmImageDiT::load(source_.component("transformer"), device_, dtype_));
  if (dit_->tp_size() != dit_tp_size_) dit_.emplace(dit_->shard_for_tp(dit_tp_rank_, dit_tp_size_));
  return *dit_;
}

void GlmImageModels::set_dit_tensor_parallel(int64_t rank, int64_t size) {
  if (dit_ && dit_->tp_size() != 1 && (rank != dit_tp_rank_ || size != dit_tp_size_))
    throw std::logic_error("the DiT is already sharded for another TP layout");
  dit_tp_rank_ = rank;
  dit_tp_size_ = size;
}

const AutoencoderKL& GlmImageModels::vae() {
  if (!vae_) vae_.emplace(AutoencoderKL::load(source_.component("vae"), device_, dtype_));
  return *vae_;
}

const FlowMatchSchedulerConfig& GlmImageModels::scheduler_config() {
  if (!scheduler_) scheduler_ = FlowMatchSchedulerConfig::from_json(source_.scheduler_config(), "scheduler_config.json");
  return *scheduler_;
}

SamplingConfig GlmImageModels::default_sampling() {
  SamplingConfig s;
  const nlohmann::json g = source_.generation_config();
  const ConfigFields f(g, "generation_config.json");
  f.number("temperature", s.temperature);
  f.number("top_p", s.top_p);
  f.positive_int("top_k", s.top_k);
  bool sample = true;
  f.boolean("do_sample", sample);
  s.greedy = !sample;
  return s;
}

}  // namespace glmh
