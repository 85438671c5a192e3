// The model presets: deterministic hashed weights, configs that load, parameter counts of the
// full preset against upstream's figures, and `checkpoint init` writing the upstream layout that
// then loads bit for bit like the in-memory preset.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/preset_weights.h"
#include "pipeline/model/ar/bpe_tokenizer.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/dit/dit_config.h"
#include "pipeline/model/glm_image_presets.h"
#include "pipeline/model/model_source.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

const c10::Device kCpu(c10::kCPU);

TEST(PresetWeights, TheSameSeedAndNameGiveTheSameValuesAndOthersDiffer) {
  const at::Tensor a = preset_parameter("transformer", "proj_out.weight", {64, 128}, 0, kCpu, at::kFloat);
  EXPECT_TRUE(at::equal(a, preset_parameter("transformer", "proj_out.weight", {64, 128}, 0, kCpu, at::kFloat)));
  EXPECT_FALSE(at::equal(a, preset_parameter("transformer", "proj_out.weight", {64, 128}, 1, kCpu, at::kFloat)));
  EXPECT_FALSE(at::equal(a, preset_parameter("transformer", "proj_in.weight", {64, 128}, 0, kCpu, at::kFloat)));
  EXPECT_FALSE(at::equal(a, preset_parameter("vae", "proj_out.weight", {64, 128}, 0, kCpu, at::kFloat)));
}

TEST(PresetWeights, ValuesAreUniformWithTheRoleScale) {
  // A matrix: U(-b, b) with b = sqrt(3 / fan_in), so std 1 / sqrt(fan_in).
  const at::Tensor w = preset_parameter("x", "m.weight", {512, 256}, 7, kCpu, at::kDouble);
  const double bound = std::sqrt(3.0 / 256);
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.01 * bound);
  EXPECT_NEAR(w.std().item<double>(), 1.0 / 16.0, 0.01 / 16.0);
  // A norm's scale: 1 +- 0.1; a bias: +- 0.02.
  const at::Tensor scale = preset_parameter("x", "norm.weight", {4096}, 7, kCpu, at::kFloat);
  EXPECT_LE((scale - 1).abs().max().item<double>(), 0.1);
  EXPECT_GT((scale - 1).abs().max().item<double>(), 0.09);
  EXPECT_LE(preset_parameter("x", "l.bias", {4096}, 7, kCpu, at::kFloat).abs().max().item<double>(), 0.02);
}

TEST(PresetWeights, HashedValuesDoNotDependOnTheDtypeBeyondRounding) {
  const at::Tensor f = preset_parameter("x", "m.weight", {33, 17}, 3, kCpu, at::kFloat);
  const at::Tensor b = preset_parameter("x", "m.weight", {33, 17}, 3, kCpu, at::kBFloat16);
  EXPECT_TRUE(at::equal(f.to(at::kBFloat16), b));
}

int64_t parameter_count(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& prefix = "") {
  int64_t n = 0;
  for (const auto& [name, shape] : shapes) {
    if (name.rfind(prefix, 0) != 0) continue;
    int64_t e = 1;
    for (int64_t d : shape) e *= d;
    n += e;
  }
  return n;
}

TEST(Presets, TheFullPresetHasUpstreamsParameterCounts) {
  const auto shapes = preset_parameter_shapes(glm_image_preset("full"));
  // docs/performance.md#upstream-on-one-h200: DiT 6.93 B; AR 10.1 B with the vision tower
  // (docs/model.md#ar-configuration: 8.9 B decoder + LM head, 1.16 B ViT, 0.04 B VQ).
  EXPECT_NEAR(double(parameter_count(shapes.at("transformer"))) / 1e9, 6.93, 0.01);
  EXPECT_NEAR(double(parameter_count(shapes.at("vision_language_encoder"))) / 1e9, 10.1, 0.05);
  EXPECT_NEAR(double(parameter_count(shapes.at("vision_language_encoder"), "model.visual.")) / 1e9, 1.16, 0.02);
  EXPECT_EQ(shapes.at("transformer").size(), 443u);  // docs/model.md#dit-tensor-names
  EXPECT_EQ(shapes.at("vision_language_encoder").at("model.language_model.embed_tokens.weight"),
            (std::vector<int64_t>{168064, 4096}));
  EXPECT_EQ(shapes.at("vision_language_encoder").at("lm_head.weight"), (std::vector<int64_t>{16512, 4096}));
}

TEST(Presets, TinyAdmitsEveryParallelTestLayout) {
  const GlmImagePreset tiny = glm_image_preset("tiny");
  const auto dit = GlmImageDiTConfig::from_json(tiny.component_configs.at("transformer"), "tiny");
  const auto ar = GlmImageTextConfig::from_json(tiny.component_configs.at("vision_language_encoder"), "tiny");
  EXPECT_EQ(dit.num_attention_heads % 8, 0);   // tp 2 x ulysses 4
  EXPECT_EQ(ar.num_key_value_heads % 2, 0);    // AR tp 2
  EXPECT_EQ(ar.num_attention_heads % 2, 0);
  const auto ids = GlmImageTokenIds::from_json(tiny.component_configs.at("vision_language_encoder"), "tiny");
  EXPECT_EQ(ids.codebook_size, dit.prior_vq_quantizer_codebook_size);
}

TEST(Presets, EveryPresetsTokenizerKnowsTheMarkersAtTheConfiguredIds) {
  for (const auto& name : preset_names()) {
    const GlmImagePreset p = glm_image_preset(name);
    const BpeTokenizer tok = BpeTokenizer::from_json(p.tokenizer, name);
    const auto ids = GlmImageTokenIds::from_json(p.component_configs.at("vision_language_encoder"), name);
    EXPECT_EQ(tok.token_id("<|dit_token_16384|>"), ids.image_start_token_id) << name;
    EXPECT_EQ(tok.token_id("<|dit_token_16385|>"), ids.image_end_token_id) << name;
    EXPECT_EQ(tok.token_id("<|image|>"), ids.image_token_id) << name;
    const auto text = GlmImageTextConfig::from_json(p.component_configs.at("vision_language_encoder"), name);
    EXPECT_LE(tok.vocab_size(), text.vocab_size) << name;
    const std::string prompt = "A “sign” reading 'OPEN' 你好<sop>32 32<eop>";
    EXPECT_EQ(tok.decode(tok.encode(prompt)), prompt) << name;
  }
  EXPECT_THROW(glm_image_preset("huge"), std::invalid_argument);
}

TEST(CheckpointInit, WritesTheUpstreamLayoutThatLoadsLikeThePreset) {
  testing::TempDir dir;
  const std::string root = dir.path() + "/tiny-7";
  write_preset_checkpoint("tiny", 7, root, at::kFloat);
  for (const char* file : {"model_index.json", "processor/tokenizer.json", "processor/tokenizer_config.json",
                           "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder/model.safetensors",
                           "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors", "vae/config.json",
                           "vae/diffusion_pytorch_model.safetensors", "vision_language_encoder/config.json",
                           "vision_language_encoder/model.safetensors", "vision_language_encoder/generation_config.json"})
    EXPECT_TRUE(posix_fs::exists(root + "/" + file)) << file;
  const ModelSource disk = ModelSource::open(root), memory = ModelSource::open("tiny", 7);
  for (const auto& [component, shapes] : preset_parameter_shapes(glm_image_preset("tiny"))) {
    const ComponentCheckpoint a = disk.component(component), b = memory.component(component);
    EXPECT_EQ(a.names(), b.names()) << component;
    for (const auto& [name, shape] : shapes)
      EXPECT_TRUE(at::equal(a.load(name, shape, kCpu, at::kFloat), b.load(name, shape, kCpu, at::kFloat)))
          << component << " " << name;
  }
  EXPECT_EQ(disk.tokenizer().encode("a 'glyph' <sop>1 2<eop>"), memory.tokenizer().encode("a 'glyph' <sop>1 2<eop>"));
  EXPECT_EQ(disk.scheduler_config(), memory.scheduler_config());
  // Never over an existing directory, and nothing left behind by a refused init.
  EXPECT_THROW(write_preset_checkpoint("tiny", 7, root, at::kFloat), CheckpointError);
  EXPECT_EQ(posix_fs::list_directory(dir.path()), std::vector<std::string>{"tiny-7"});
}

TEST(ModelSource, ABadSpecNamesWhatItExpected) {
  try {
    ModelSource::open("/nonexistent/glm");
    ADD_FAILURE();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("neither a preset (tiny, small, full) nor a checkpoint directory"), std::string::npos);
  }
  testing::TempDir dir;
  try {
    ModelSource::open(dir.path());
    ADD_FAILURE();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("no model_index.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace glmh
