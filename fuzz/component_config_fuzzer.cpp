// Each component's config.json: the same document goes to every component's parser (AR text
// config and token ids, vision tower and VQ, T5, VAE, DiT, scheduler), and an accepted config's
// parameter shapes are computed, as loading does.
#include "fuzz/fuzz_input.h"
#include "pipeline/checkpoint/config_fields.h"
#include "pipeline/model/ar/glm_image_text_config.h"
#include "pipeline/model/ar/glm_image_vision_config.h"
#include "pipeline/model/dit/dit_config.h"
#include "pipeline/model/flow_match_scheduler.h"
#include "pipeline/model/glyph/t5_encoder_config.h"
#include "pipeline/model/vae/autoencoder_kl_config.h"

namespace {

template <class Parse>
void each(Parse&& parse) {
  glmh::fuzz::refuse_only_with<glmh::CheckpointError>(parse);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  nlohmann::json j;
  try {
    j = parse_json_text(fuzz::text_of(data, size), "config.json");
  } catch (const CheckpointError& e) {
    fuzz::check_message(e.what());
    return 0;
  }
  each([&] { glm_image_text_parameter_shapes(GlmImageTextConfig::from_json(j, "config.json")); });
  each([&] { GlmImageTokenIds::from_json(j, "config.json"); });
  each([&] {
    glm_image_vision_parameter_shapes(GlmImageVisionConfig::from_json(j, "config.json"),
                                      GlmImageVQConfig::from_json(j, "config.json"));
  });
  each([&] { t5_encoder_parameter_shapes(T5EncoderConfig::from_json(j, "config.json")); });
  each([&] { autoencoder_kl_parameter_shapes(AutoencoderKLConfig::from_json(j, "config.json")); });
  each([&] { dit_parameter_shapes(GlmImageDiTConfig::from_json(j, "config.json")); });
  each([&] { FlowMatchSchedulerConfig::from_json(j, "scheduler_config.json"); });
  return 0;
}
