#include "harness/checks/ar_first_divergence.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>
#include <stdexcept>

#include "harness/io/number_text.h"
#include "pipeline/glm_image/glm_image_ar_inputs.h"
#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/model/ar/ar_teacher_forcing.h"
#include "pipeline/model/ar/token_sampler.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

// The logits a sampler sees: ids at and above `allowed` (outside the codebook while a grid is
// generated) can never be chosen, so they take no part in the comparison.
at::Tensor allowed_ids(const at::Tensor& logits, int64_t allowed) {
  return allowed > 0 && allowed < logits.size(-1) ? logits.narrow(-1, 0, allowed) : logits;
}

// What `row` picks with the draw u, and the margin of that pick over `other`.
std::pair<int64_t, double> pick(const at::Tensor& row, double u, const SamplingConfig& sampling, int64_t allowed,
                                int64_t own, int64_t other) {
  const at::Tensor draw = at::full({1}, u, at::TensorOptions().dtype(at::kDouble));
  const int64_t chosen = select_tokens(row.clone().unsqueeze(0), draw, sampling, allowed)[0].item<int64_t>();
  if (sampling.greedy) return {chosen, (row[own] - row[other]).item<double>()};
  const at::Tensor cdf = sampling_cdf(row.clone().unsqueeze(0), sampling, allowed).squeeze(0);
  const double total = cdf[-1].item<double>();
  const double hi = cdf[own].item<double>() / total, lo = own > 0 ? cdf[own - 1].item<double>() / total : 0.0;
  return {chosen, std::min(u - lo, hi - u)};
}

}  // namespace

double ar_logit_bound(c10::ScalarType dtype) {
  // Measured floors and margins: docs/checks.md#first-divergence.
  return dtype == at::kBFloat16 ? 0.1 : dtype == at::kHalf ? 2e-2 : 1e-4;
}

std::string ArDivergence::describe() const {
  if (position < 0) return "no generated token differs";
  std::string s = "first divergence at generated token " + std::to_string(position) + " of " + std::to_string(total) +
                  " (" + std::to_string(layout_token) + " instead of " + std::to_string(reference_token) +
                  "): logits differ by at most " + number_text(logit_diff, "%.3g") + " (" +
                  number_text(relative_logit_diff(), "%.2g") + " of the largest, bound " + number_text(bound, "%.2g") +
                  "; up to it at most " + number_text(prefix_logit_diff, "%.2g") + "); " +
                  (greedy ? "the single-rank logit of its token leads the layout's by " + number_text(margin, "%.3g")
                          : "the draw lay " + number_text(margin, "%.3g") +
                                " in probability inside the single-rank token's share") +
                  "; with this draw the layout's logits pick " + std::to_string(layout_pick) + ", the single-rank " +
                  std::to_string(reference_pick) + ": ";
  if (!reference_follows_its_model())
    return s + "not classified (the single-rank run's token is not what its own model picks: a reference of another "
               "request, seed, sampling or build?)";
  if (!layout_follows_its_model())
    return s + "defect (the layout's token is not what its own logits pick: another random stream or sampler?)";
  if (!numerics) return s + "defect (the logits differ beyond the dtype's rounding)";
  return s + "numerics (a near tie, flipped by a logit difference within rounding)";
}

ArDivergence explain_first_divergence(GlmImageModels& models, const GlmImageParams& params, bool ar_tensor_parallel,
                                      const at::Tensor& layout_generated, const at::Tensor& reference_generated,
                                      RankContext& ctx) {
  ArDivergence d;
  const auto on_device = at::TensorOptions().dtype(at::kDouble).device(ctx.device());
  Communicator& world = ctx.group(GroupKind::World);
  const at::Tensor theirs = reference_generated.reshape({-1}).to(at::kCPU, at::kLong);
  // Where the tokens part, as rank 0 holds them (under the main-rank strategy the others may not).
  at::Tensor where = at::full({4}, -1.0, on_device);
  if (ctx.rank() == 0) {
    const at::Tensor mine = layout_generated.reshape({-1}).to(at::kCPU, at::kLong);
    if (mine.numel() == theirs.numel()) {
      const at::Tensor differ = (mine != theirs).nonzero();
      const int64_t p = differ.numel() > 0 ? differ[0][0].item<int64_t>() : -1;
      where = at::tensor({double(mine.numel()), double(p), p >= 0 ? double(mine[p].item<int64_t>()) : 0.0,
                          p >= 0 ? double(theirs[p].item<int64_t>()) : 0.0}, at::TensorOptions().dtype(at::kDouble))
                  .to(ctx.device());
    }
  }
  world.broadcast(where, 0);
  ctx.synchronize_device();
  const at::Tensor w = where.cpu();
  if (w[0].item<double>() < 0)
    throw std::invalid_argument("the layout and the single-rank run generated different numbers of tokens");
  d.total = int64_t(w[0].item<double>());
  d.position = int64_t(w[1].item<double>());
  if (d.position < 0) return d;
  d.layout_token = int64_t(w[2].item<double>());
  d.reference_token = int64_t(w[3].item<double>());
  d.greedy = params.sampling.greedy;
  d.bound = ar_logit_bound(models.dtype());
  const int64_t count = d.position + 1;

  // Rows 0..position; the layout's model is collective when it is tensor-parallel.
  at::Tensor layout_logits;
  const bool take_part = ar_tensor_parallel || ctx.rank() == 0;
  std::optional<GlmImageArInputs> inputs;
  if (take_part) {
    inputs = glm_image_ar_inputs(models, params);
    layout_logits = teacher_forced_logits(models.ar(), models.token_ids(), inputs->input_ids, inputs->grids, theirs, count);
  }
  at::Tensor figures = at::zeros({7}, on_device);
  if (ctx.rank() == 0) {
    // The single-rank model, as the reference run had it (the layout's may be a TP shard).
    const GlmImageTextModel single = GlmImageTextModel::load(models.source().component("vision_language_encoder"),
                                                             models.device(), models.dtype());
    const at::Tensor reference_logits =
        teacher_forced_logits(single, models.token_ids(), inputs->input_ids, inputs->grids, theirs, count);
    const int64_t codebook = models.token_ids().codebook_size;
    // Every grid token is restricted to the codebook, the end marker (the last token) is not.
    const int64_t limit = d.position < d.total - 1 ? codebook : 0;
    const at::Tensor diff = (allowed_ids(layout_logits, codebook) - allowed_ids(reference_logits, codebook)).abs();
    const at::Tensor scale = allowed_ids(reference_logits, codebook).abs().amax(-1).clamp_min(1e-30);
    d.prefix_logit_diff = (diff.amax(-1) / scale).max().item<double>();
    const at::Tensor mine_row = allowed_ids(layout_logits[d.position], limit).to(at::kCPU, at::kDouble);
    const at::Tensor ref_row = allowed_ids(reference_logits[d.position], limit).to(at::kCPU, at::kDouble);
    d.logit_diff = (mine_row - ref_row).abs().max().item<double>();
    d.logit_scale = ref_row.abs().max().item<double>();
    const double u = sampling_uniforms(params.seed, d.total, at::kCPU)[d.position].item<double>();
    std::tie(d.reference_pick, d.margin) =
        pick(ref_row, u, params.sampling, limit, d.reference_token, d.layout_token);
    d.layout_pick = pick(mine_row, u, params.sampling, limit, d.layout_token, d.reference_token).first;
    d.numerics = d.reference_follows_its_model() && d.layout_follows_its_model() && d.relative_logit_diff() <= d.bound;
    figures = at::tensor({d.logit_diff, d.logit_scale, d.prefix_logit_diff, d.margin, double(d.layout_pick),
                          double(d.reference_pick), d.numerics ? 1.0 : 0.0},
                         at::TensorOptions().dtype(at::kDouble))
                  .to(ctx.device());
  }
  world.broadcast(figures, 0);
  ctx.synchronize_device();
  const at::Tensor f = figures.cpu();
  d.logit_diff = f[0].item<double>();
  d.logit_scale = f[1].item<double>();
  d.prefix_logit_diff = f[2].item<double>();
  d.margin = f[3].item<double>();
  d.layout_pick = int64_t(f[4].item<double>());
  d.reference_pick = int64_t(f[5].item<double>());
  d.numerics = f[6].item<double>() > 0;
  return d;
}

}  // namespace glmh
