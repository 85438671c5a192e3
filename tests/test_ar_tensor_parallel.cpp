// The AR model tensor-parallel over Gloo thread ranks (tiny preset: 8 heads, 2 KV heads, a
// vocabulary split in two): prefill logits and cached decode steps equal the single-rank model's,
// and the shard's sizes are the local ones.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/parity.h"
#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/glm_image_text_model.h"
#include "pipeline/model/model_source.h"
#include "pipeline/model/ar/ar_tensor_parallel.h"
#include "tests/thread_ranks.h"

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

}  // namespace
}  // namespace glmh
