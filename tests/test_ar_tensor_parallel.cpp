// The AR model tensor-parallel over Gloo thread ranks (tiny preset: 8 heads, 2 KV heads, a
// vocabulary split in two): prefill logits and cached decode steps equal the single-rank model's,
// the shard's sizes are the local ones, and every token id (and, at the full vocabulary's sizes,
// every shard boundary id) and every logit survive the vocabulary split.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "tests/parity.h"
#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/model_source.h"
#include "pipeline/model/ar/ar_tensor_parallel.h"
#include "tests/thread_ranks.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"
#include "tests/text_files.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"

namespace glmh {
namespace {

class ArTensorParallelTest : public testing::ThreadRanksTest {
 protected:
  static void SetUpTestSuite() {
    model_ = new GlmImageTextModel(GlmImageTextModel::load(ModelSource::open("tiny", 4).component("vision_language_encoder"),
                                                           c10::Device(c10::kCPU), at::kFloat));
  }
  static void TearDownTestSuite() { delete model_; }
  static GlmImageTextModel* model_;
};
GlmImageTextModel* ArTensorParallelTest::model_ = nullptr;

// Logits of a prefill of `prompt` tokens, then of `steps` cached decode tokens, concatenated.
at::Tensor prefill_and_decode(const GlmImageTextModel& m, const at::Tensor& ids, int64_t prompt, int64_t steps) {
  ArKvCache cache(m.config(), 1, prompt + steps, c10::Device(c10::kCPU), at::kFloat);
  const at::Tensor pos = at::arange(prompt + steps, at::kLong).view({1, 1, -1}).expand({3, 1, prompt + steps});
  std::vector<at::Tensor> logits = {m.logits(m.hidden_states(ids.narrow(1, 0, prompt), pos.narrow(2, 0, prompt), &cache))};
  for (int64_t j = prompt; j < prompt + steps; ++j)
    logits.push_back(m.logits(m.hidden_states(ids.narrow(1, j, 1), pos.narrow(2, j, 1), &cache)));
  return at::cat(logits, 1);
}

TEST_F(ArTensorParallelTest, ShardedModelGivesTheSingleRankLogits) {
  at::manual_seed(9);
  const at::Tensor ids = at::randint(model_->config().vocab_size, {1, 14}, at::kLong);
  const at::Tensor expected = prefill_and_decode(*model_, ids, 10, 4);
  testing::run_thread_ranks_ok(testing::layout_of(2, 2), [&](RankContext& ctx) {
    const GlmImageTextModel shard = model_->shard_for_tp(ctx.group(GroupKind::Tp));
    EXPECT_EQ(shard.config().num_attention_heads, model_->config().num_attention_heads / 2);
    EXPECT_EQ(shard.config().num_key_value_heads, model_->config().num_key_value_heads / 2);
    EXPECT_EQ(shard.config().head_size(), model_->config().head_size());
    const at::Tensor got = prefill_and_decode(shard, ids, 10, 4);
    const auto f = testing::parity_figures(got, expected);
    EXPECT_LE(f.relative_max_error, 1e-5) << "rank " << ctx.rank();
    EXPECT_TRUE(at::equal(got.argmax(-1), expected.argmax(-1))) << "rank " << ctx.rank();
  });
}

// The vocabulary split: a sequence of the given ids through the sharded model gives the single-rank
// hidden states at every position (a wrong embedding row at a shard boundary changes its
// position) and every logit of the vision vocabulary (each rank's slice, gathered).
void expect_every_id_survives_the_split(const GlmImageTextModel& full, const at::Tensor& ids, int tp) {
  const int64_t n = ids.size(1);
  const at::Tensor pos = at::arange(n, at::kLong).view({1, 1, -1}).expand({3, 1, n});
  const at::Tensor hidden = full.hidden_states(ids, pos);
  const at::Tensor logits = full.logits(hidden);
  testing::run_thread_ranks_ok(testing::layout_of(tp, tp), [&](RankContext& ctx) {
    const GlmImageTextModel shard = full.shard_for_tp(ctx.group(GroupKind::Tp));
    const at::Tensor got_hidden = shard.hidden_states(ids, pos);
    const at::Tensor got_logits = shard.logits(hidden);  // the same input: the LM head alone
    // Per position: the worst relative error of its hidden state.
    const at::Tensor err = (got_hidden - hidden).abs().amax(-1) / hidden.abs().amax(-1);
    const int64_t worst = err.argmax().item<int64_t>();
    EXPECT_LE(err[0][worst].item<double>(), 1e-5) << "rank " << ctx.rank() << ": token id " << ids[0][worst].item<int64_t>();
    EXPECT_EQ(got_logits.sizes(), logits.sizes());
    const at::Tensor col = (got_logits - logits).abs().amax({0, 1});
    const int64_t bad = col.argmax().item<int64_t>();
    EXPECT_LE(col[bad].item<double>(), 1e-5 * logits.abs().max().item<double>()) << "rank " << ctx.rank() << ": logit " << bad;
  });
}

TEST_F(ArTensorParallelTest, EveryTokenIdAndEveryLogitOfTheTinyVocabularySurviveTheSplit) {
  expect_every_id_survives_the_split(*model_, at::arange(model_->config().vocab_size, at::kLong).view({1, -1}), 2);
}

// The full preset's vocabulary sizes (168064 ids, 16512 logits) on the tiny model's layers (a tiny
// checkpoint whose embedding and LM head are widened to them): the ids on both sides of each shard
// boundary of either vocabulary, and the first and last.
TEST(ArTensorParallel, TheFullVocabularysShardBoundaryIdsSurviveTheSplit) {
  testing::TempDir dir;
  const std::string ckpt = dir.path() + "/ckpt";
  ASSERT_EQ(testing::run_process({GLMH_BINARY, "checkpoint", "init", "--preset", "tiny", "--out", ckpt}).exit_code, 0);
  const std::string component = ckpt + "/vision_language_encoder";
  const int64_t vocab = 168064, vision_vocab = 16512;
  {
    nlohmann::json config = nlohmann::json::parse(testing::read_text(component + "/config.json"));
    config["text_config"]["vocab_size"] = vocab;
    config["text_config"]["vision_vocab_size"] = vision_vocab;
    std::ofstream(component + "/config.json") << config.dump(2);
    const auto weights = SafetensorsFile::open(component + "/model.safetensors");
    std::map<std::string, at::Tensor> tensors;
    for (const auto& name : weights->names()) tensors[name] = weights->tensor(name).clone();
    at::manual_seed(3);
    const int64_t hidden = tensors.at("lm_head.weight").size(1);
    tensors["model.language_model.embed_tokens.weight"] = at::randn({vocab, hidden}) * 0.02;
    tensors["lm_head.weight"] = at::randn({vision_vocab, hidden}) * 0.02;
    write_safetensors(component + "/model.safetensors", tensors);
  }
  const GlmImageTextModel wide =
      GlmImageTextModel::load(ComponentCheckpoint::open(component), c10::Device(c10::kCPU), at::kFloat);
  ASSERT_EQ(wide.config().vocab_size, vocab);
  const int64_t half = vocab / 2, vision_half = vision_vocab / 2;
  const at::Tensor ids = at::tensor({int64_t(0), half - 2, half - 1, half, half + 1, vision_half - 1, vision_half,
                                     vision_vocab - 1, vision_vocab, vocab - 1},
                                    at::kLong)
                             .view({1, -1});
  expect_every_id_survives_the_split(wide, ids, 2);
}

TEST(ArTensorParallel, RefusesHeadCountsThatDoNotSplit) {
  GlmImageTextConfig c;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  EXPECT_THROW(shard_ar_parameters_for_tp({}, c, 0, 4), std::invalid_argument);
  const std::map<std::string, at::Tensor> gate_up = {
      {"model.language_model.layers.0.mlp.gate_up_proj.weight", at::arange(8, at::kFloat).view({8, 1})}};
  const auto shard = shard_ar_parameters_for_tp(gate_up, c, 1, 2);
  // Rows 2..3 of the gate half and 6..7 of the up half.
  EXPECT_TRUE(at::equal(shard.begin()->second.view({-1}), at::tensor({2.f, 3.f, 6.f, 7.f})));
}

// The AR's tensor-parallel group is the layout's TP group under tp and the whole world under
// tp-world, whatever the DiT runs (cfg 2 here): the AR over both ranks, the DiT one branch each.
TEST(ArStrategies, TpWorldSpansTheWorldWhateverTheDitLayoutAndTpItsTpGroup) {
  ParallelDegrees cfg2;
  cfg2.world_size = 2;
  cfg2.cfg = 2;
  const ParallelLayout layout = ParallelLayout::create(cfg2);
  EXPECT_EQ(ar_tensor_parallel_size(ArStrategy::TpWorld, layout), 2);
  EXPECT_EQ(ar_tensor_parallel_group(ArStrategy::TpWorld), GroupKind::World);
  EXPECT_EQ(ar_tensor_parallel_group(ArStrategy::Tp), GroupKind::Tp);
  EXPECT_EQ(ar_tensor_parallel_size(ArStrategy::Tp, layout), 1);
  EXPECT_EQ(ar_tensor_parallel_size(ArStrategy::MainRank, layout), 1);
  EXPECT_EQ(parse_ar_strategy("tp-world"), ArStrategy::TpWorld);
  EXPECT_EQ(std::string(ar_strategy_name(ArStrategy::TpWorld)), "tp-world");
}

}  // namespace
}  // namespace glmh
