#include "harness/checks/rotary_sharding_check.h"

#include <ATen/ATen.h>

#include "pipeline/parallel/sp_sharding.h"
#include "pipeline/runtime/rank_context.h"
#include "harness/checks/rank_gather.h"

namespace glmh {

namespace {

// Index into the full table of each token in [first, first + count), padding tokens taking the
// last token row's entry in their column.
at::Tensor source_rows(const SpShardPlan& plan, int64_t first, int64_t count) {
  const at::Tensor g = at::arange(first, first + count, at::TensorOptions().dtype(at::kLong));
  const at::Tensor row = at::clamp_max(at::floor_divide(g, plan.grid_w), plan.grid_h - 1);
  return row * plan.grid_w + at::remainder(g, plan.grid_w);
}

std::string rows_text(const at::Tensor& t) { return std::to_string(t.dim() > 0 ? t.size(0) : 0) + " rows"; }

// This rank's problems, "" when none.
std::string local_problems(const SpShardPlan& plan, const SpShards& mine, const WholeSequence& whole) {
  const int64_t n = plan.tokens_per_rank();
  const std::string where = "(" + plan.describe() + ")";
  for (const auto& [name, shard, full] : {std::tuple<const char*, at::Tensor, at::Tensor>{"cos", mine.cos, whole.cos},
                                          {"sin", mine.sin, whole.sin}}) {
    if (shard.dim() != 2 || shard.size(0) != n)
      return std::string(name) + " has " + rows_text(shard) + ", expected " + std::to_string(n) + " " + where;
    const at::Tensor expected = full.cpu().index_select(0, source_rows(plan, plan.first_token(), n));
    if (!at::equal(shard.cpu().to(expected.scalar_type()), expected))
      return std::string(name) + " rows are not the full table's rows for this rank's tokens " + where;
  }
  // Coverage: the same tokens in the latent band and the prior slice.
  const int64_t p = plan.patch;
  if (mine.latents_band.size(2) != plan.band_rows * p || mine.latents_band.size(3) != plan.grid_w * p)
    return "latent band is " + std::to_string(mine.latents_band.size(2)) + "x" + std::to_string(mine.latents_band.size(3)) +
           ", expected " + std::to_string(plan.band_rows * p) + "x" + std::to_string(plan.grid_w * p) + " " + where;
  const int64_t first_latent_row = plan.first_row() * p, real_rows = plan.grid_h * p;
  const int64_t kept = std::clamp<int64_t>(real_rows - first_latent_row, 0, plan.band_rows * p);
  const at::Tensor band = mine.latents_band.cpu().to(at::kFloat);
  if (kept > 0 && !at::equal(band.narrow(2, 0, kept), whole.latents.cpu().to(at::kFloat).narrow(2, first_latent_row, kept)))
    return "latent band does not hold latent rows " + std::to_string(first_latent_row) + ".." +
           std::to_string(first_latent_row + kept - 1) + " " + where;
  if (kept < band.size(2) && band.narrow(2, kept, band.size(2) - kept).abs().max().item<double>() != 0.0)
    return "latent band's padding rows are not zero " + where;
  if (mine.prior_ids.size(-1) != n)
    return "prior ids have " + std::to_string(mine.prior_ids.size(-1)) + " tokens, expected " + std::to_string(n) + " " + where;
  const at::Tensor ids = mine.prior_ids.cpu().reshape({-1});
  const int64_t real_ids = std::clamp<int64_t>(plan.tokens() - plan.first_token(), 0, n);
  // (A rank may hold padding only: then it has no real ids to compare.)
  if ((real_ids > 0 &&
       !at::equal(ids.narrow(0, 0, real_ids), whole.prior_ids.cpu().reshape({-1}).narrow(0, plan.first_token(), real_ids))) ||
      (real_ids < n && ids.narrow(0, real_ids, n - real_ids).abs().max().item<int64_t>() != 0))
    return "prior ids are not the slice for this rank's tokens " + where;
  return "";
}

}  // namespace

CheckResult rotary_sharding_check(const SpShardPlan& plan, const SpShards& mine, const WholeSequence& whole,
                                  RankContext& ctx) {
  const std::string name = "rotary_sharding";
  Communicator& sp = ctx.group(GroupKind::Sp);
  Communicator& world = ctx.group(GroupKind::World);
  std::string problem = local_problems(plan, mine, whole);
  // The rank-ordered concatenation of the SP group's shards is the padded full table (only when
  // every shard has its expected size: a gather of unequal shards is not possible).
  const std::vector<double> rows = gather_values(sp, mine.cos.dim() == 2 ? double(mine.cos.size(0)) : -1.0);
  bool equal_sizes = true;
  for (double r : rows) equal_sizes = equal_sizes && r == double(plan.tokens_per_rank());
  if (equal_sizes) {
    for (const auto& [label, shard, full] : {std::tuple<const char*, at::Tensor, at::Tensor>{"cos", mine.cos, whole.cos},
                                             {"sin", mine.sin, whole.sin}}) {
      const at::Tensor local = shard.to(ctx.device(), at::kFloat).contiguous();
      at::Tensor all = at::empty({plan.padded_tokens(), local.size(1)}, local.options());
      sp.all_gather(all, local);
      ctx.synchronize_device();
      const at::Tensor expected = full.cpu().to(at::kFloat).index_select(0, source_rows(plan, 0, plan.padded_tokens()));
      if (!at::equal(all.cpu(), expected) && problem.empty())
        problem = std::string("the SP group's ") + label + " shards concatenated in rank order differ from the padded full table";
    }
  }
  int bad = 0;
  const std::string detail = join_rank_reports(gather_strings(world, problem), &bad);
  if (bad > 0) return CheckResult::pass_or_fail(name, false, bad, 0, detail);
  return CheckResult::pass_or_fail(
      name, true, 0, 0,
      "sp " + std::to_string(plan.sp) + ": " + std::to_string(plan.grid_h) + " token rows in bands of " +
          std::to_string(plan.band_rows) + (plan.padded() ? " (padded to " + std::to_string(plan.padded_grid_h) + ")" : "") +
          "; cos, sin, latent band and prior ids cover the same tokens on every rank");
}

}  // namespace glmh
