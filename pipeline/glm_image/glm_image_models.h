// The GLM-Image components one rank uses, loaded from a ModelSource (preset or checkpoint) onto
// its device in the run's dtype. Each is loaded on first use, so a rank that never runs the AR
// stage (every rank but the main one, under the main-rank strategy) never holds the 9 B AR model;
// `preload` loads them ahead so that loading stays out of the timed stages.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <optional>

#include "pipeline/model/ar/ar_generation.h"
#include "pipeline/model/ar/bpe_tokenizer.h"
#include "pipeline/model/ar/glm_image_vision.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/dit/glm_image_dit.h"
#include "pipeline/model/flow_match_scheduler.h"
#include "pipeline/model/glyph/t5_encoder.h"
#include "pipeline/model/model_source.h"
#include "pipeline/model/vae/autoencoder_kl.h"

namespace glmh {

class Communicator;

class GlmImageModels {
 public:
  GlmImageModels(ModelSource source, const c10::Device& device, c10::ScalarType dtype);

  const ModelSource& source() const { return source_; }
  const c10::Device& device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }

  struct Which {
    bool ar = true, vision = false, glyph = true, dit = true, vae = true;
  };
  void preload(Which which);

  // The AR model, or this rank's TP shard of it once set_ar_tensor_parallel was called.
  const GlmImageTextModel& ar();
  // The AR model's configuration, read without loading its weights (layout checks).
  const GlmImageTextConfig& ar_config();
  void set_ar_tensor_parallel(Communicator* tp);
  const GlmImageTokenIds& token_ids();
  const GlmImageVisionEncoder& vision();  // image to image only
  const BpeTokenizer& tokenizer();
  const T5Encoder& glyph_encoder();
  // The DiT, or this TP rank's shard of it once set_dit_tensor_parallel was called (the full
  // weights are dropped after the split).
  const GlmImageDiT& dit();
  void set_dit_tensor_parallel(int64_t rank, int64_t size);
  const AutoencoderKL& vae();
  const FlowMatchSchedulerConfig& scheduler_config();
  // The checkpoint's generation_config.json sampling settings (do_sample, temperature, top_k, top_p).
  SamplingConfig default_sampling();

 private:
  ModelSource source_;
  c10::Device device_;
  c10::ScalarType dtype_;
  std::optional<GlmImageTextModel> ar_;
  std::optional<GlmImageTextConfig> ar_config_;
  Communicator* ar_tp_ = nullptr;
  std::optional<GlmImageTokenIds> token_ids_;
  std::optional<GlmImageVisionEncoder> vision_;
  std::optional<BpeTokenizer> tokenizer_;
  std::optional<T5Encoder> glyph_;
  std::optional<GlmImageDiT> dit_;
  int64_t dit_tp_rank_ = 0, dit_tp_size_ = 1;
  std::optional<AutoencoderKL> vae_;
  std::optional<FlowMatchSchedulerConfig> scheduler_;
};

}  // namespace glmh
