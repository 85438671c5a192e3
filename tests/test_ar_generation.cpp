// The AR generation loop against transformers' GlmImageForConditionalGeneration.generate (greedy,
// 5.24.0; golden from scripts/reference/make_ar_generate_golden.py), the KV cache against the
// uncached forward, and the sampler's distribution against Hugging Face's warpers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/parity.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/ar/ar_generation.h"
#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/ar_teacher_forcing.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/ar/token_sampler.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

class ArGenerationTest : public ::testing::Test {
 protected:
  ArGenerationTest()
      : checkpoint_(ComponentCheckpoint::open(kGolden + "/ar_generate_tiny")),
        model_(GlmImageTextModel::load(checkpoint_, c10::Device(c10::kCPU), at::kFloat)),
        ids_(GlmImageTokenIds::from_json(checkpoint_.config(), "config.json")),
        io_(SafetensorsFile::open(kGolden + "/ar_generate_io.safetensors")) {}

  static std::vector<GridThw> grids_of(const at::Tensor& t) {
    std::vector<GridThw> grids;
    for (int64_t i = 0; i < t.size(0); ++i) grids.push_back({t[i][0].item<int64_t>(), t[i][1].item<int64_t>(), t[i][2].item<int64_t>()});
    return grids;
  }
  at::Tensor greedy(const at::Tensor& input_ids, const std::vector<GridThw>& grids, bool restrict = true) const {
    ArGenerationOptions options;
    options.sampling.greedy = true;
    options.restrict_grids_to_codebook = restrict;
    return generate_image_tokens(model_, ids_, input_ids, grids, options).generated;
  }

  ComponentCheckpoint checkpoint_;
  GlmImageTextModel model_;
  GlmImageTokenIds ids_;
  std::shared_ptr<SafetensorsFile> io_;
};

// On a GPU the decode step is replayed as a CUDA graph: the tokens must be those of the eager
// loop, greedy and sampled, in fp32 and bf16.
TEST_F(ArGenerationTest, CudaGraphDecodingGivesTheEagerTokens) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const c10::Device gpu(c10::kCUDA, 0);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const GlmImageTextModel model = GlmImageTextModel::load(checkpoint_, gpu, dtype);
    const at::Tensor input_ids = io_->tensor("t2i_input_ids").to(gpu);
    const auto grids = grids_of(io_->tensor("t2i_image_grid_thw"));
    for (const bool greedy : {true, false}) {
      ArGenerationOptions options;
      options.sampling.greedy = greedy;
      options.seed = 11;
      options.use_cuda_graph = false;
      const at::Tensor eager = generate_image_tokens(model, ids_, input_ids, grids, options).generated.cpu();
      options.use_cuda_graph = true;
      const at::Tensor graph = generate_image_tokens(model, ids_, input_ids, grids, options).generated.cpu();
      EXPECT_TRUE(at::equal(eager, graph)) << (greedy ? "greedy " : "sampled ") << dtype;
      if (greedy && dtype == at::kFloat) {
        EXPECT_TRUE(at::equal(graph, io_->tensor("t2i_generated_ids")));
      }
    }
  }
}

TEST_F(ArGenerationTest, ReadsTheTokenIdsFromTheConfig) {
  EXPECT_EQ(ids_.image_start_token_id, 64);
  EXPECT_EQ(ids_.image_end_token_id, 65);
  EXPECT_EQ(ids_.image_token_id, 70);
  EXPECT_EQ(ids_.codebook_size, 64);
}

TEST_F(ArGenerationTest, TextToImageGreedyTokensEqualTransformers) {
  const at::Tensor ref = io_->tensor("t2i_generated_ids");
  const auto grids = grids_of(io_->tensor("t2i_image_grid_thw"));
  EXPECT_TRUE(at::equal(greedy(io_->tensor("t2i_input_ids"), grids), ref));
  // Upstream does not restrict grid tokens to the codebook; on this model that changes nothing.
  EXPECT_TRUE(at::equal(greedy(io_->tensor("t2i_input_ids"), grids, /*restrict=*/false), ref));
}

TEST_F(ArGenerationTest, ImageToImageGreedyTokensEqualTransformers) {
  // The source image's placeholders carry its VQ ids (as upstream substitutes them).
  at::Tensor ids = io_->tensor("i2i_input_ids").clone();
  ids.masked_scatter_(ids == ids_.image_token_id, io_->tensor("i2i_vq_ids"));
  const at::Tensor out = greedy(ids, grids_of(io_->tensor("i2i_image_grid_thw")));
  EXPECT_TRUE(at::equal(out, io_->tensor("i2i_generated_ids")));
}

TEST_F(ArGenerationTest, TheCheckCatchesGridsLaidOutInTheWrongOrder) {
  // Target and preview grids swapped: the decode positions differ, and so do the tokens.
  auto grids = grids_of(io_->tensor("t2i_image_grid_thw"));
  std::swap(grids[0], grids[1]);
  EXPECT_FALSE(at::equal(greedy(io_->tensor("t2i_input_ids"), grids), io_->tensor("t2i_generated_ids")));
}

TEST_F(ArGenerationTest, CachedDecodingEqualsTheFullCausalForward) {
  // Prompt + generated tokens in one causal forward vs prefill then one token at a time.
  const at::Tensor prompt = io_->tensor("t2i_input_ids");
  const at::Tensor generated = io_->tensor("t2i_generated_ids");
  const auto grids = grids_of(io_->tensor("t2i_image_grid_thw"));
  std::vector<int64_t> prompt_ids(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + prompt.numel());
  const ArPositions pos = glm_image_rope_index(prompt_ids, grids, ids_.image_start_token_id, ids_.image_end_token_id);
  const int64_t fed = generated.size(1) - 1;  // the last token is never fed back
  const at::Tensor all_ids = at::cat({prompt, generated.narrow(1, 0, fed)}, 1);
  const at::Tensor all_pos = at::cat({pos.prefill, pos.decode.narrow(1, 0, fed)}, 1).unsqueeze(1);
  const at::Tensor full = model_.hidden_states(all_ids, all_pos);

  ArKvCache cache(model_.config(), 1, all_ids.size(1), c10::Device(c10::kCPU), at::kFloat);
  std::vector<at::Tensor> steps = {model_.hidden_states(prompt, pos.prefill.unsqueeze(1), &cache)};
  for (int64_t j = 0; j < fed; ++j)
    steps.push_back(model_.hidden_states(generated.narrow(1, j, 1), pos.decode.narrow(1, j, 1).unsqueeze(1), &cache));
  EXPECT_EQ(cache.length(), all_ids.size(1));
  testing::expect_parity(at::cat(steps, 1), full, "cached hidden states");
  EXPECT_THROW(model_.hidden_states(prompt, pos.prefill.unsqueeze(1), &cache), std::invalid_argument);
}

TEST_F(ArGenerationTest, TeacherForcingGivesTheLogitsEachTokenWasDrawnFrom) {
  // The first-divergence analysis rests on this: fed a generation's own tokens, the model gives
  // bit for bit the logits each was drawn from, so the same draws pick the same tokens, in fp32
  // and in bf16 (where any other path's rounding would flip near ties).
  const at::Tensor prompt = io_->tensor("t2i_input_ids");
  const auto grids = grids_of(io_->tensor("t2i_image_grid_thw"));
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const GlmImageTextModel model = GlmImageTextModel::load(checkpoint_, c10::Device(c10::kCPU), dtype);
    ArGenerationOptions options;
    options.seed = 7;
    options.sampling.temperature = 1.0;
    options.sampling.top_p = 1.0;  // the flattest distribution: the most near ties
    const at::Tensor generated = generate_image_tokens(model, ids_, prompt, grids, options).generated;
    const int64_t total = generated.size(1);
    const at::Tensor logits = teacher_forced_logits(model, ids_, prompt, grids, generated, total);
    ASSERT_EQ(logits.size(0), total);
    const at::Tensor draws = sampling_uniforms(options.seed, total, c10::Device(c10::kCPU));
    for (int64_t j = 0; j < total; ++j) {
      const int64_t allowed = j < total - 1 ? ids_.codebook_size : 0;
      const at::Tensor pick = select_tokens(logits[j].unsqueeze(0).clone(), draws.narrow(0, j, 1), options.sampling, allowed);
      ASSERT_EQ(pick[0].item<int64_t>(), generated[0][j].item<int64_t>()) << "token " << j;
    }
    // A prefix only: the rows are the same.
    EXPECT_TRUE(at::equal(teacher_forced_logits(model, ids_, prompt, grids, generated, 3), logits.narrow(0, 0, 3)));
  }
}

TEST_F(ArGenerationTest, TheKvCacheRefusesToOverflow) {
  ArKvCache cache(model_.config(), 1, 4, c10::Device(c10::kCPU), at::kFloat);
  const at::Tensor prompt = io_->tensor("t2i_input_ids");  // 8 tokens
  const at::Tensor pos = at::arange(prompt.size(1)).expand({3, 1, prompt.size(1)});
  EXPECT_THROW(model_.hidden_states(prompt, pos, &cache), std::invalid_argument);
}

// Relative frequencies of `draws` seeded draws from the logits.
at::Tensor frequencies(const at::Tensor& logits, const SamplingConfig& config, int64_t draws, uint64_t seed) {
  const at::Tensor u = sampling_uniforms(seed, draws, c10::Device(c10::kCPU));
  const at::Tensor tokens = select_tokens(logits.expand({draws, logits.size(-1)}), u, config);
  return at::bincount(tokens, {}, logits.size(-1)).to(at::kDouble) / double(draws);
}

SamplingConfig config_from(const at::Tensor& settings) {
  SamplingConfig c;
  c.temperature = settings[0].item<double>();
  c.top_k = int64_t(settings[1].item<double>());
  c.top_p = settings[2].item<double>();
  return c;
}

TEST_F(ArGenerationTest, SamplingDrawsFromHuggingFacesWarpedDistribution) {
  const at::Tensor logits = io_->tensor("sampling_logits");
  for (const std::string name : {"checkpoint", "top_k", "all"}) {
    const at::Tensor probs = io_->tensor("sampling_" + name + "_probs").reshape({-1}).to(at::kDouble);
    const at::Tensor freq = frequencies(logits, config_from(io_->tensor("sampling_" + name + "_settings")), 40000, 7);
    // 40000 draws: the standard error of a frequency is at most 0.0025.
    EXPECT_LT((freq - probs).abs().max().item<double>(), 0.012) << name;
    EXPECT_EQ(freq.masked_select(probs == 0).sum().item<double>(), 0.0) << name << ": a filtered token was drawn";
  }
}

TEST_F(ArGenerationTest, TheSamplingCheckCatchesAMissingTopP) {
  const at::Tensor logits = io_->tensor("sampling_logits");
  SamplingConfig wrong = config_from(io_->tensor("sampling_checkpoint_settings"));
  wrong.top_p = 1.0;
  const at::Tensor probs = io_->tensor("sampling_checkpoint_probs").reshape({-1}).to(at::kDouble);
  const at::Tensor freq = frequencies(logits, wrong, 40000, 7);
  EXPECT_GT(freq.masked_select(probs == 0).sum().item<double>(), 0.05);
}

TEST(TokenSampler, TheSameSeedGivesTheSameTokensAndAnotherSeedOthers) {
  const at::Tensor logits = at::randn({64, 50}, at::TensorOptions().dtype(at::kFloat));
  SamplingConfig config;
  config.temperature = 1.0;
  config.top_p = 1.0;
  const at::Tensor a = select_tokens(logits, sampling_uniforms(11, 64, c10::Device(c10::kCPU)), config);
  const at::Tensor b = select_tokens(logits, sampling_uniforms(11, 64, c10::Device(c10::kCPU)), config);
  const at::Tensor c = select_tokens(logits, sampling_uniforms(12, 64, c10::Device(c10::kCPU)), config);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
}

TEST(TokenSampler, ARestrictedChoiceStaysBelowTheLimit) {
  at::Tensor logits = at::zeros({3, 10});
  logits.narrow(1, 8, 2).fill_(50.0);  // ids 8 and 9 would win
  SamplingConfig greedy;
  greedy.greedy = true;
  const at::Tensor u = sampling_uniforms(3, 3, c10::Device(c10::kCPU));
  EXPECT_TRUE((select_tokens(logits, u, greedy) >= 8).all().item<bool>());
  EXPECT_TRUE((select_tokens(logits, u, greedy, /*allowed=*/8) < 8).all().item<bool>());
  EXPECT_TRUE((select_tokens(logits, u, SamplingConfig{}, /*allowed=*/8) < 8).all().item<bool>());
}

}  // namespace
}  // namespace glmh
