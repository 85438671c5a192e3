// The DiT's parallel layers against the single-rank computation, on Gloo thread ranks: SP
// sharding (bands, padding, shard_rotary_emb_for_sp), Ulysses / Ring / USP attention with the
// replicated prefix and a keys-only cache prefix, and the whole tiny DiT under TP and SP.
#include <ATen/ATen.h>
#include <cmath>
#include <gtest/gtest.h>

#include "tests/parity.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/model/dit/glm_image_dit.h"
#include "pipeline/model/model_source.h"
#include "pipeline/parallel/dit_tensor_parallel.h"
#include "pipeline/parallel/row_copy.h"
#include "pipeline/parallel/sequence_parallel_attention.h"
#include "pipeline/parallel/sp_sharding.h"
#include "pipeline/runtime/torch_compat.h"
#include "tests/thread_ranks.h"

namespace glmh {
namespace {

using testing::layout_of;
using testing::run_thread_ranks_ok;

TEST(SpSharding, ShardRotaryEmbForSpRepeatsTheLastRowThenSlices) {
  const at::Tensor table = at::arange(10, at::kFloat).view({5, 2});
  EXPECT_TRUE(at::equal(shard_rotary_emb_for_sp(table, 2, 0), table.narrow(0, 0, 3)));
  const at::Tensor last = shard_rotary_emb_for_sp(table, 2, 1);
  ASSERT_EQ(last.size(0), 3);
  EXPECT_TRUE(at::equal(last[0], table[3]));
  EXPECT_TRUE(at::equal(last[1], table[4]));
  EXPECT_TRUE(at::equal(last[2], table[4]));
  EXPECT_TRUE(at::equal(shard_rotary_emb_for_sp(table, 5, 4), table.narrow(0, 4, 1)));
}

TEST(SpSharding, BandsPadWholeTokenRowsAndCoverTheSameTokens) {
  // 10 latent rows = 5 token rows over sp 3: bands of 2 rows, the last one padded by 1 row.
  const SpShardPlan plan = SpShardPlan::create(10, 6, 2, 3, 2);
  EXPECT_EQ(plan.grid_h, 5);
  EXPECT_EQ(plan.band_rows, 2);
  EXPECT_EQ(plan.padded_grid_h, 6);
  EXPECT_EQ(plan.first_token(), 12);
  EXPECT_EQ(plan.describe(), "rank 2 of 3: token rows 4..5 of 5 (1 padding row)");
  const at::Tensor latents = at::randn({1, 4, 10, 6});
  const at::Tensor band = shard_latents_for_sp(latents, plan);
  EXPECT_TRUE(at::equal(band.narrow(2, 0, 2), latents.narrow(2, 8, 2)));
  EXPECT_EQ(band.narrow(2, 2, 2).abs().max().item<float>(), 0.0f);
  const at::Tensor ids = at::arange(15, at::kLong).view({1, 15}) + 1;
  const at::Tensor slice = shard_tokens_for_sp(ids, plan);
  EXPECT_TRUE(at::equal(slice, at::tensor({13L, 14L, 15L, 0L, 0L, 0L}).view({1, 6})));
  const auto [cos, sin] = get_freqs_cis(5, 3, 8);
  const at::Tensor rows = shard_rotary_for_plan(cos, plan);
  EXPECT_TRUE(at::equal(rows.narrow(0, 0, 3), cos.narrow(0, 12, 3)));
  EXPECT_TRUE(at::equal(rows.narrow(0, 3, 3), cos.narrow(0, 12, 3)));  // the last token row again
}

// The log-sum-exp attention ring attention merges: on the CPU the math path, on CUDA in bf16 a fused
// kernel (cuDNN's on torch >= 2.5, else flash). The log-sum-exp is the natural one of the scaled
// scores, and two halves of the keys merged by their log-sum-exps give full attention.
TEST(AttentionWithLse, HalvesMergedByLogSumExpGiveFullAttention) {
  std::vector<c10::Device> devices = {c10::Device(c10::kCPU)};
  if (at::hasCUDA()) devices.push_back(c10::Device(c10::kCUDA, 0));
  for (const c10::Device& device : devices) {
    const auto dtype = device.is_cuda() ? at::kBFloat16 : at::kFloat;
    const auto opts = at::TensorOptions().dtype(dtype).device(device);
    at::manual_seed(3);
    const at::Tensor q = at::randn({1, 4, 40, 64}, opts), k = at::randn({1, 4, 96, 64}, opts),
                     v = at::randn({1, 4, 96, 64}, opts);
    const at::Tensor full = compat::attention(q, k, v).to(at::kFloat);
    auto [a, lse_a] = compat::attention_with_lse(q, k.narrow(2, 0, 50), v.narrow(2, 0, 50));
    const auto [b, lse_b] = compat::attention_with_lse(q, k.narrow(2, 50, 46), v.narrow(2, 50, 46));
    const at::Tensor lse = at::logaddexp(lse_a, lse_b);
    const at::Tensor merged = a.to(at::kFloat) * at::exp(lse_a - lse).unsqueeze(-1) +
                              b.to(at::kFloat) * at::exp(lse_b - lse).unsqueeze(-1);
    const double tolerance = device.is_cuda() ? 2e-2 : 1e-5;
    EXPECT_LE(((merged - full).abs().max() / full.abs().max()).item<double>(), tolerance) << device;
    const at::Tensor qf = q.cpu().to(at::kFloat), kf = k.narrow(2, 0, 50).cpu().to(at::kFloat);
    const at::Tensor lse_math = at::logsumexp(at::matmul(qf, kf.transpose(-2, -1)) / std::sqrt(64.0), -1);
    ASSERT_EQ(lse_a.sizes(), lse_math.sizes()) << device;
    EXPECT_LE((lse_a.cpu().to(at::kFloat) - lse_math).abs().max().item<double>(), device.is_cuda() ? 5e-2 : 1e-5)
        << device;
    // A query that sees no key: output 0 and log-sum-exp -inf (merging it changes nothing).
    const at::Tensor none = at::zeros({96}, at::TensorOptions().dtype(at::kBool).device(device));
    const auto [z, lse_z] = compat::attention_with_lse(q, k, v, none);
    EXPECT_EQ(z.abs().max().item<double>(), 0.0);
    EXPECT_TRUE(lse_z.isinf().all().item<bool>());
  }
}

// copy_rows moves 16-byte words where it can and falls back to copy_ where it cannot; either way the
// bytes are those of copy_.
TEST(RowCopy, GivesTheBytesOfCopyForEveryLayout) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 6, 4, 64}).to(at::kBFloat16);
  struct Case {
    const char* what;
    at::Tensor src;
  };
  const std::vector<Case> cases = {
      {"permuted", x.permute({1, 0, 2, 3})},
      {"narrowed", x.narrow(1, 2, 3)},
      {"expanded", x.narrow(0, 0, 1).expand({3, 6, 4, 64})},
      {"rows not a multiple of 16 bytes", x.narrow(3, 0, 6)},
      {"misaligned rows", x.narrow(3, 1, 8)},
      {"fp32 rows of 3", at::randn({4, 5, 3}).permute({1, 0, 2})},
  };
  for (const auto& c : cases) {
    at::Tensor expected = at::empty(c.src.sizes(), c.src.options());
    expected.copy_(c.src);
    at::Tensor got = at::zeros(c.src.sizes(), c.src.options());
    copy_rows(got, c.src);
    EXPECT_TRUE(at::equal(got, expected)) << c.what;
  }
}

struct AttentionCase {
  int sp, ulysses, ring;
  int64_t grid_h;  // token rows (grid_w 3)
};

// Full attention on one rank over [cache ; text ; image] keys and [text ; image] queries.
at::Tensor full_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return compat::attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2);
}

void expect_sp_attention_matches(const AttentionCase& c, bool fault, bool expect_match) {
  const int64_t heads = 4, d = 8, text = 3, cache = 2, grid_w = 3;
  at::manual_seed(11);
  const int64_t n_img = c.grid_h * grid_w;
  const at::Tensor q = at::randn({1, text + n_img, heads, d});
  const at::Tensor k = at::randn({1, cache + text + n_img, heads, d});
  const at::Tensor v = at::randn({1, cache + text + n_img, heads, d});
  const at::Tensor expected = full_attention(q, k, v);
  run_thread_ranks_ok(layout_of(c.sp, 1, c.sp, 1, c.ulysses, c.ring), [&](RankContext& ctx) {
    const SpShardPlan plan = SpShardPlan::create(c.grid_h * 2, grid_w * 2, 2, c.sp, ctx.group(GroupKind::Sp).rank());
    // Image tokens of this rank, zero-padded like the latents (padding must be hidden anyway).
    auto band = [&](const at::Tensor& t, int64_t prefix) {
      at::Tensor image = t.narrow(1, prefix, n_img);
      image = at::cat({image, at::zeros({1, plan.padded_tokens() - n_img, heads, d})}, 1);
      return at::cat({t.narrow(1, 0, prefix), image.narrow(1, plan.first_token(), plan.tokens_per_rank())}, 1);
    };
    SequenceParallelAttention attention;
    attention.ulysses = &ctx.group(GroupKind::Ulysses);
    attention.ring = &ctx.group(GroupKind::Ring);
    attention.image_tokens = plan.tokens();
    attention.tokens_per_rank = plan.tokens_per_rank();
    attention.fault_ring_prefix_no_rotate = fault;
    const at::Tensor out = attention(band(q, text), band(k, cache + text), band(v, cache + text), text);
    const at::Tensor want = band(expected, text);
    const int64_t real = std::max<int64_t>(0, std::min(plan.tokens_per_rank(), n_img - plan.first_token()));
    const at::Tensor got = out.narrow(1, 0, text + real), ref = want.narrow(1, 0, text + real);
    const double err = ((got - ref).abs().max() / ref.abs().max()).item<double>();
    if (expect_match)
      EXPECT_LE(err, 1e-5) << "rank " << ctx.rank() << " sp " << c.sp << " u" << c.ulysses << " r" << c.ring;
    else
      EXPECT_GT(err, 1e-2) << "rank " << ctx.rank() << ": the faulty ring attention went unnoticed";
  });
}

class SequenceParallelAttentionTest : public testing::ThreadRanksTest {};

TEST_F(SequenceParallelAttentionTest, UlyssesRingAndUspMatchFullAttentionWithThePrefixes) {
  for (const AttentionCase& c : {AttentionCase{2, 2, 1, 4}, AttentionCase{2, 1, 2, 4}, AttentionCase{4, 2, 2, 4},
                                 AttentionCase{4, 4, 1, 8}, AttentionCase{4, 1, 4, 4}})
    expect_sp_attention_matches(c, false, true);
}

TEST_F(SequenceParallelAttentionTest, PaddingTokensAreHiddenWhenRowsDoNotDivide) {
  // 5 token rows over 2, 3, 4 and 8 ranks; 2 rows over ring 4 and 5 over 8 leave ranks with
  // padding only.
  for (const AttentionCase& c : {AttentionCase{2, 2, 1, 5}, AttentionCase{3, 1, 3, 5}, AttentionCase{4, 2, 2, 5},
                                 AttentionCase{4, 1, 4, 2}, AttentionCase{8, 2, 4, 5}})
    expect_sp_attention_matches(c, false, true);
}

TEST_F(SequenceParallelAttentionTest, RingThatNeverRotatesThePrefixIsWrong) {
  expect_sp_attention_matches({2, 1, 2, 4}, true, false);
  expect_sp_attention_matches({4, 2, 2, 4}, true, false);
}

// The tiny preset's DiT under TP and SP against its single-rank forward.
class ParallelDitTest : public testing::ThreadRanksTest {
 protected:
  static void SetUpTestSuite() {
    dit_ = new GlmImageDiT(GlmImageDiT::load(ModelSource::open("tiny", 3).component("transformer"),
                                             c10::Device(c10::kCPU), at::kFloat));
  }
  static void TearDownTestSuite() { delete dit_; }
  static GlmImageDiT* dit_;

  void expect_parallel_forward_matches(int tp, int sp, int ulysses, int ring, int64_t latent_h, int64_t latent_w) {
    const auto& c = dit_->config();
    at::manual_seed(5);
    const int64_t tokens = (latent_h / 2) * (latent_w / 2);
    DiTInputs in;
    in.latents = at::randn({1, c.in_channels, latent_h, latent_w});
    in.glyph_embeds = at::randn({1, 5, c.text_embed_dim});
    in.prior_token_id = at::randint(c.prior_vq_quantizer_codebook_size, {1, tokens}, at::kLong);
    in.prior_token_drop = at::zeros({1}, at::kBool);
    in.timestep = at::full({1}, 500.0f);
    in.target_size = at::tensor({float(latent_h * 8), float(latent_w * 8)}).view({1, 2});
    in.crop_coords = at::zeros({1, 2});
    const at::Tensor expected = dit_->forward(in);
    run_thread_ranks_ok(layout_of(tp * sp, tp, sp, 1, ulysses, ring), [&](RankContext& ctx) {
      Communicator& tp_group = ctx.group(GroupKind::Tp);
      Communicator& sp_group = ctx.group(GroupKind::Sp);
      const GlmImageDiT shard = dit_->shard_for_tp(tp_group.rank(), tp_group.size());
      const SpShardPlan plan = SpShardPlan::create(latent_h, latent_w, c.patch_size, sp, sp_group.rank());
      SequenceParallelAttention attention;
      attention.ulysses = &ctx.group(GroupKind::Ulysses);
      attention.ring = &ctx.group(GroupKind::Ring);
      attention.image_tokens = plan.tokens();
      attention.tokens_per_rank = plan.tokens_per_rank();
      DitParallelism parallel;
      parallel.tp = tp > 1 ? &tp_group : nullptr;
      parallel.sp = sp > 1 ? &attention : nullptr;
      DiTInputs mine = in;
      mine.parallel = &parallel;
      mine.latents = shard_latents_for_sp(in.latents, plan);
      mine.prior_token_id = shard_tokens_for_sp(in.prior_token_id, plan);
      const auto [cos, sin] = get_freqs_cis(plan.grid_h, plan.grid_w, c.attention_head_dim);
      mine.rotary_cos = shard_rotary_for_plan(cos, plan);
      mine.rotary_sin = shard_rotary_for_plan(sin, plan);
      const at::Tensor out = gather_latents_from_sp(shard.forward(mine), plan, sp_group);
      const auto f = testing::parity_figures(out, expected);
      EXPECT_LE(f.relative_max_error, 1e-5) << "rank " << ctx.rank() << " tp " << tp << " sp " << sp << " u" << ulysses
                                            << " r" << ring << " " << latent_h << "x" << latent_w;
    });
  }
};
GlmImageDiT* ParallelDitTest::dit_ = nullptr;

TEST_F(ParallelDitTest, TensorParallelMatchesOneRank) { expect_parallel_forward_matches(2, 1, 0, 0, 8, 12); }
TEST_F(ParallelDitTest, UlyssesMatchesOneRank) { expect_parallel_forward_matches(1, 2, 2, 1, 8, 12); }
TEST_F(ParallelDitTest, RingMatchesOneRank) { expect_parallel_forward_matches(1, 2, 1, 2, 8, 12); }
TEST_F(ParallelDitTest, TensorTimesUspMatchesOneRank) { expect_parallel_forward_matches(2, 4, 2, 2, 8, 12); }
TEST_F(ParallelDitTest, PaddedBandsMatchOneRank) { expect_parallel_forward_matches(1, 3, 1, 3, 10, 6); }

TEST(DitTensorParallel, SplitsHeadsAndFeedForwardAndReplicatesTheRest) {
  EXPECT_EQ(dit_tp_split("transformer_blocks.3.attn1.to_q.weight"), TpSplit::Column);
  EXPECT_EQ(dit_tp_split("transformer_blocks.3.ff.net.0.proj.bias"), TpSplit::Column);
  EXPECT_EQ(dit_tp_split("transformer_blocks.3.attn1.to_out.0.weight"), TpSplit::Row);
  EXPECT_EQ(dit_tp_split("transformer_blocks.3.ff.net.2.weight"), TpSplit::Row);
  EXPECT_EQ(dit_tp_split("transformer_blocks.3.norm1.linear.weight"), TpSplit::Replicated);
  EXPECT_EQ(dit_tp_split("proj_out.weight"), TpSplit::Replicated);
  const std::map<std::string, at::Tensor> params = {
      {"transformer_blocks.0.attn1.to_q.weight", at::arange(12, at::kFloat).view({4, 3})},
      {"transformer_blocks.0.attn1.to_out.0.weight", at::arange(12, at::kFloat).view({3, 4})},
      {"transformer_blocks.0.attn1.to_out.0.bias", at::arange(3, at::kFloat)}};
  const auto shard = shard_dit_parameters_for_tp(params, 1, 2);
  EXPECT_TRUE(at::equal(shard.at("transformer_blocks.0.attn1.to_q.weight"), params.at("transformer_blocks.0.attn1.to_q.weight").narrow(0, 2, 2)));
  EXPECT_TRUE(at::equal(shard.at("transformer_blocks.0.attn1.to_out.0.weight"),
                        params.at("transformer_blocks.0.attn1.to_out.0.weight").narrow(1, 2, 2)));
  EXPECT_TRUE(at::equal(shard.at("transformer_blocks.0.attn1.to_out.0.bias"), at::arange(3, at::kFloat)));
  EXPECT_THROW(shard_dit_parameters_for_tp(params, 0, 3), std::invalid_argument);
}

}  // namespace
}  // namespace glmh
