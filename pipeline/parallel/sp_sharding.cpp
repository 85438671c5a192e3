#include "pipeline/parallel/sp_sharding.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

#include "pipeline/runtime/communicator.h"

namespace glmh {

SpShardPlan SpShardPlan::create(int64_t latent_h, int64_t latent_w, int64_t patch, int64_t sp, int64_t rank) {
  if (sp < 1 || rank < 0 || rank >= sp)
    throw std::invalid_argument("SP rank " + std::to_string(rank) + " of " + std::to_string(sp) + " does not exist");
  if (latent_h % patch != 0 || latent_w % patch != 0)
    throw std::invalid_argument("latents " + std::to_string(latent_h) + "x" + std::to_string(latent_w) +
                                " are not a multiple of the patch size " + std::to_string(patch));
  SpShardPlan p;
  p.sp = sp;
  p.rank = rank;
  p.patch = patch;
  p.grid_h = latent_h / patch;
  p.grid_w = latent_w / patch;
  p.band_rows = (p.grid_h + sp - 1) / sp;
  p.padded_grid_h = p.band_rows * sp;
  return p;
}

std::string SpShardPlan::describe() const {
  std::string s = "rank " + std::to_string(rank) + " of " + std::to_string(sp) + ": token rows " +
                  std::to_string(first_row()) + ".." + std::to_string(first_row() + band_rows - 1) + " of " +
                  std::to_string(grid_h);
  const int64_t padding = std::min(band_rows, std::max<int64_t>(0, first_row() + band_rows - grid_h));
  if (padding > 0) s += " (" + std::to_string(padding) + " padding row" + (padding > 1 ? "s" : "") + ")";
  return s;
}

at::Tensor shard_rotary_emb_for_sp(const at::Tensor& table, int64_t sp, int64_t rank) {
  const int64_t n = table.size(0);
  at::Tensor padded = table;
  if (n % sp != 0) {
    auto sizes = table.sizes().vec();
    sizes[0] = sp - n % sp;
    padded = at::cat({table, table.narrow(0, n - 1, 1).expand(sizes)}, 0);
  }
  const int64_t rows = padded.size(0) / sp;
  return padded.narrow(0, rank * rows, rows);
}

at::Tensor shard_rotary_for_plan(const at::Tensor& table, const SpShardPlan& plan) {
  if (table.size(0) != plan.tokens())
    throw std::invalid_argument("rotary table has " + std::to_string(table.size(0)) + " rows, expected " +
                                std::to_string(plan.tokens()) + " (one per image token)");
  // Padding a whole token row at a time repeats the last token row; its tokens are hidden anyway.
  const at::Tensor rows = table.view({plan.grid_h, plan.grid_w, table.size(1)});
  at::Tensor padded = rows;
  if (plan.padded()) {
    const at::Tensor last = rows.narrow(0, plan.grid_h - 1, 1);
    padded = at::cat({rows, last.expand({plan.padded_grid_h - plan.grid_h, plan.grid_w, table.size(1)})}, 0);
  }
  return shard_rotary_emb_for_sp(padded, plan.sp, plan.rank).reshape({plan.tokens_per_rank(), table.size(1)});
}

at::Tensor shard_latents_for_sp(const at::Tensor& latents, const SpShardPlan& plan) {
  at::Tensor x = latents;
  if (plan.padded()) {
    auto sizes = latents.sizes().vec();
    sizes[2] = (plan.padded_grid_h - plan.grid_h) * plan.patch;
    x = at::cat({latents, at::zeros(sizes, latents.options())}, 2);
  }
  return x.narrow(2, plan.first_row() * plan.patch, plan.band_rows * plan.patch).contiguous();
}

at::Tensor shard_tokens_for_sp(const at::Tensor& ids, const SpShardPlan& plan) {
  if (ids.size(-1) != plan.tokens())
    throw std::invalid_argument("prior_token_id has " + std::to_string(ids.size(-1)) + " tokens, expected " +
                                std::to_string(plan.tokens()));
  at::Tensor x = ids;
  if (plan.padded()) {
    auto sizes = ids.sizes().vec();
    sizes.back() = plan.padded_tokens() - plan.tokens();
    x = at::cat({ids, at::zeros(sizes, ids.options())}, -1);
  }
  return x.narrow(-1, plan.first_token(), plan.tokens_per_rank()).contiguous();
}

at::Tensor gather_latents_from_sp(const at::Tensor& band, const SpShardPlan& plan, Communicator& sp_group) {
  if (sp_group.size() != plan.sp) throw std::invalid_argument("SP group size differs from the shard plan's sp");
  if (plan.sp == 1) return band;
  // [B, C, rows, W'] -> rows first, so that all_gather's dim-0 concatenation stacks the bands.
  const at::Tensor mine = band.permute({2, 0, 1, 3}).contiguous();
  auto sizes = mine.sizes().vec();
  sizes[0] *= plan.sp;
  at::Tensor all = at::empty(sizes, mine.options());
  sp_group.all_gather(all, mine);
  return all.narrow(0, 0, plan.grid_h * plan.patch).permute({1, 2, 0, 3}).contiguous();
}

}  // namespace glmh
