#include "pipeline/model/glm_image_presets.h"

#include <stdexcept>

#include "pipeline/model/ar/bpe_tokenizer.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/ar/glm_image_vision.h"
#include "pipeline/model/dit/dit_config.h"
#include "pipeline/model/dit/glm_image_dit.h"
#include "pipeline/model/glyph/t5_encoder.h"
#include "pipeline/model/vae/autoencoder_kl.h"

namespace glmh {

namespace {

using json = nlohmann::json;

// GLM-4's special tokens in id order (<|endoftext|> first), as the processor's tokenizer has them.
const std::vector<std::string> kGlmSpecialTokens = {
    "<|endoftext|>",      "[MASK]",           "[gMASK]",          "[sMASK]",          "<sop>",
    "<eop>",              "<|system|>",       "<|user|>",         "<|assistant|>",    "<|observation|>",
    "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>", "<|image|>",
    "<|video|>"};
constexpr int64_t kImagePlaceholderIndex = 14;  // <|image|> in kGlmSpecialTokens

// The sizes that differ between presets.
struct PresetDims {
  // AR decoder
  int64_t ar_hidden, ar_intermediate, ar_layers, ar_heads, ar_kv_heads, ar_head_dim;
  std::vector<int64_t> mrope_section;
  // Vocabulary: [0, codebook) image tokens, start, end, reserved up to vision_vocab, then text.
  int64_t codebook, vision_vocab, first_special_id, first_byte_id, vocab_size;
  // Vision tower and VQ
  int64_t vit_depth, vit_hidden, vit_heads, vit_intermediate, vit_image_size, vq_embed_dim;
  // Glyph encoder (T5)
  int64_t t5_d_model, t5_d_kv, t5_heads, t5_d_ff, t5_layers;
  // DiT
  int64_t dit_layers, dit_heads, dit_head_dim, dit_time_embed, dit_condition;
  // VAE
  std::vector<int64_t> vae_blocks;
  int64_t vae_layers_per_block, vae_groups;
};

PresetDims dims_of(const std::string& name) {
  if (name == "tiny")
    return {128, 256, 2, 8, 2, 16, {2, 1, 1},
            64, 80, 80, 96, 352,
            2, 32, 2, 64, 512, 16,
            32, 8, 4, 64, 2,
            2, 8, 16, 32, 16,
            {16, 32, 32, 32}, 1, 8};
  if (name == "small")
    return {1024, 2816, 4, 16, 2, 64, {4, 6, 6},
            16384, 16512, 167841, 16512, 168064,
            4, 256, 4, 1024, 2048, 256,
            384, 64, 6, 1024, 4,
            4, 16, 64, 512, 256,
            {128, 256, 512, 512}, 2, 32};
  if (name == "full")
    return {4096, 13696, 40, 32, 2, 128, {8, 12, 12},
            16384, 16512, 167841, 16512, 168064,
            40, 1536, 16, 6144, 2048, 2048,
            1472, 64, 6, 3584, 12,
            30, 32, 128, 512, 256,
            {128, 512, 1024, 1024}, 3, 32};
  throw std::invalid_argument("unknown model preset '" + name + "' (tiny, small, full)");
}

const std::vector<double> kLatentsMean = {-0.2080078125, 1.875,  -0.470703125, -1.265625,     -1.421875, 0.77734375,
                                          -0.3671875,    -0.9453125, 0.318359375, 0.7734375, -0.1884765625,
                                          -0.022216796875, -0.220703125, -1.59375, -0.81640625, -0.255859375};
const std::vector<double> kLatentsStd = {3.0625,  2.203125, 2.265625, 4.84375, 2.5,      3.9375,   2.203125, 3.03125,
                                         2.1875,  2.046875, 2.71875,  2.390625, 2.390625, 2.453125, 2.25,    2.15625};

json added_token(int64_t id, const std::string& content) {
  return {{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},    {"normalized", false}, {"special", true}};
}

json tokenizer_of(const PresetDims& d) {
  json t = byte_level_tokenizer_json(kGlmSpecialTokens, d.first_special_id, d.first_byte_id);
  // The image start / end markers keep their real names whatever their ids (tiny relabels them).
  // An added token keeps the id of its vocabulary entry (tokenizers numbers any other after the
  // vocabulary), so the markers go into both.
  for (const auto& [id, content] : {std::pair<int64_t, std::string>{d.codebook, "<|dit_token_16384|>"},
                                    std::pair<int64_t, std::string>{d.codebook + 1, "<|dit_token_16385|>"}}) {
    t["model"]["vocab"][content] = id;
    t["added_tokens"].push_back(added_token(id, content));
  }
  return t;
}

}  // namespace

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"tiny", "small", "full"};
  return names;
}

bool is_preset_name(const std::string& name) {
  for (const auto& n : preset_names())
    if (n == name) return true;
  return false;
}

GlmImagePreset glm_image_preset(const std::string& name) {
  const PresetDims d = dims_of(name);
  GlmImagePreset p;
  p.name = name;
  const int64_t start = d.codebook, end = d.codebook + 1, placeholder = d.first_special_id + kImagePlaceholderIndex;
  p.model_index = {{"_class_name", "GlmImagePipeline"},
                   {"_diffusers_version", "0.42.1"},
                   {"_glmh_preset", name},
                   {"processor", {"transformers", "GlmImageProcessor"}},
                   {"scheduler", {"diffusers", "FlowMatchEulerDiscreteScheduler"}},
                   {"text_encoder", {"transformers", "T5EncoderModel"}},
                   {"tokenizer", {"transformers", "ByT5Tokenizer"}},
                   {"transformer", {"diffusers", "GlmImageTransformer2DModel"}},
                   {"vae", {"diffusers", "AutoencoderKL"}},
                   {"vision_language_encoder", {"transformers", "GlmImageForConditionalGeneration"}}};
  p.component_configs["vision_language_encoder"] = {
      {"architectures", {"GlmImageForConditionalGeneration"}},
      {"model_type", "glm_image"},
      {"dtype", "bfloat16"},
      {"image_token_id", placeholder},
      {"image_start_token_id", start},
      {"image_end_token_id", end},
      {"text_config",
       {{"model_type", "glm_image_text"}, {"vocab_size", d.vocab_size}, {"vision_vocab_size", d.vision_vocab},
        {"hidden_size", d.ar_hidden}, {"intermediate_size", d.ar_intermediate}, {"num_hidden_layers", d.ar_layers},
        {"num_attention_heads", d.ar_heads}, {"num_key_value_heads", d.ar_kv_heads}, {"head_dim", d.ar_head_dim},
        {"hidden_act", "silu"}, {"rms_norm_eps", 1e-5}, {"attention_bias", true},
        {"max_position_embeddings", 131072}, {"pad_token_id", d.first_special_id}, {"eos_token_id", end},
        {"tie_word_embeddings", false},
        {"rope_parameters",
         {{"rope_type", "default"}, {"rope_theta", 10000.0}, {"partial_rotary_factor", 0.5},
          {"mrope_section", d.mrope_section}}}}},
      {"vision_config",
       {{"model_type", "glm_image_vision"}, {"depth", d.vit_depth}, {"hidden_size", d.vit_hidden},
        {"num_heads", d.vit_heads}, {"intermediate_size", d.vit_intermediate}, {"hidden_act", "gelu"},
        {"attention_bias", true}, {"image_size", d.vit_image_size}, {"patch_size", 16}, {"in_channels", 3},
        {"layer_norm_eps", 1e-6}, {"spatial_merge_size", 1}}},
      {"vq_config",
       {{"model_type", "glm_image_vqmodel"}, {"embed_dim", d.vq_embed_dim}, {"num_embeddings", d.codebook},
        {"latent_channels", d.vit_hidden}, {"in_channels", 3}}}};
  p.generation_config = {{"do_sample", true},     {"temperature", 0.9},  {"top_p", 0.75},
                         {"top_k", d.vision_vocab}, {"eos_token_id", end}, {"pad_token_id", placeholder}};
  p.component_configs["text_encoder"] = {
      {"architectures", {"T5EncoderModel"}}, {"model_type", "t5"}, {"vocab_size", 384}, {"d_model", d.t5_d_model},
      {"d_kv", d.t5_d_kv}, {"d_ff", d.t5_d_ff}, {"num_layers", d.t5_layers}, {"num_heads", d.t5_heads},
      {"relative_attention_num_buckets", 32}, {"relative_attention_max_distance", 128},
      {"layer_norm_epsilon", 1e-6}, {"feed_forward_proj", "gated-gelu"}, {"is_encoder_decoder", false},
      {"dtype", "bfloat16"}};
  p.component_configs["transformer"] = {
      {"_class_name", "GlmImageTransformer2DModel"}, {"patch_size", 2}, {"in_channels", 16}, {"out_channels", 16},
      {"num_layers", d.dit_layers}, {"attention_head_dim", d.dit_head_dim}, {"num_attention_heads", d.dit_heads},
      {"text_embed_dim", d.t5_d_model}, {"time_embed_dim", d.dit_time_embed}, {"condition_dim", d.dit_condition},
      {"prior_vq_quantizer_codebook_size", d.codebook}};
  const size_t levels = d.vae_blocks.size();
  p.component_configs["vae"] = {
      {"_class_name", "AutoencoderKL"}, {"in_channels", 3}, {"out_channels", 3}, {"latent_channels", 16},
      {"block_out_channels", d.vae_blocks}, {"layers_per_block", d.vae_layers_per_block},
      {"down_block_types", std::vector<std::string>(levels, "DownEncoderBlock2D")},
      {"up_block_types", std::vector<std::string>(levels, "UpDecoderBlock2D")}, {"act_fn", "silu"},
      {"norm_num_groups", d.vae_groups}, {"mid_block_add_attention", false}, {"use_quant_conv", false},
      {"use_post_quant_conv", false}, {"force_upcast", true}, {"scaling_factor", 0.18215},
      {"latents_mean", kLatentsMean}, {"latents_std", kLatentsStd}};
  p.scheduler_config = {{"_class_name", "FlowMatchEulerDiscreteScheduler"},
                        {"num_train_timesteps", 1000},
                        {"use_dynamic_shifting", true},
                        {"time_shift_type", "linear"},
                        {"base_shift", 0.25},
                        {"max_shift", 0.75},
                        {"base_image_seq_len", 256},
                        {"max_image_seq_len", 4096},
                        {"shift", 1.0},
                        {"invert_sigmas", false}};
  p.tokenizer = tokenizer_of(d);
  p.tokenizer_config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                        {"bos_token", "<|dit_token_16384|>"},
                        {"eos_token", "<|dit_token_16385|>"},
                        {"pad_token", "<|dit_token_16385|>"},
                        {"grid_bos_token", "<sop>"},
                        {"grid_eos_token", "<eop>"},
                        {"image_token", "<|image|>"},
                        {"padding_side", "left"},
                        {"model_max_length", 65536}};
  return p;
}

std::map<std::string, std::map<std::string, std::vector<int64_t>>> preset_parameter_shapes(const GlmImagePreset& p) {
  const auto& configs = p.component_configs;
  const std::string source = "preset " + p.name;
  std::map<std::string, std::map<std::string, std::vector<int64_t>>> shapes;
  const nlohmann::json& ar = configs.at("vision_language_encoder");
  shapes["vision_language_encoder"] = glm_image_text_parameter_shapes(GlmImageTextConfig::from_json(ar, source));
  for (auto& [name, shape] : glm_image_vision_parameter_shapes(GlmImageVisionConfig::from_json(ar, source),
                                                               GlmImageVQConfig::from_json(ar, source)))
    shapes["vision_language_encoder"][name] = shape;
  shapes["text_encoder"] = t5_encoder_parameter_shapes(T5EncoderConfig::from_json(configs.at("text_encoder"), source));
  shapes["transformer"] = dit_parameter_shapes(GlmImageDiTConfig::from_json(configs.at("transformer"), source));
  shapes["vae"] = autoencoder_kl_parameter_shapes(AutoencoderKLConfig::from_json(configs.at("vae"), source));
  return shapes;
}

}  // namespace glmh
