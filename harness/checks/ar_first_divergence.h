// Why a layout's AR tokens differ from the single-rank run's (docs/checks.md#first-divergence):
// the layout's AR model and the single-rank one are both teacher-forced on the single-rank run's
// tokens up to the first token that differs, exactly as they generated (ar_teacher_forcing.h), so
// both give, bit for bit, the logits they drew that token from. With the request's own draw it
// reports where, the largest logit difference, the margin of the single-rank choice (greedy: its
// logit over the layout token's; sampled: how far the draw lay from the edge of its token's share
// of the distribution) and which token each model's logits pick, and classifies:
//   numerics  each model's logits pick its own run's token (the flip is the logit difference's
//             doing: a near tie) and the difference is within the dtype's bound;
//   defect    the logits differ beyond the bound, or the layout's token is not what its own
//             logits pick (another random stream, a broken sampler);
//   not classified  the single-rank run's token is not what its own model picks (a reference of
//             another request, seed or build).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace glmh {

class GlmImageModels;
struct GlmImageParams;
class RankContext;

struct ArDivergence {
  int64_t position = -1;  // index among the generated tokens; -1: none differs
  int64_t total = 0;      // generated tokens
  int64_t layout_token = 0, reference_token = 0;
  double logit_diff = 0;         // max |layout - single-rank| logit at `position`, over the ids it may pick
  double logit_scale = 0;        // max |single-rank logit| there
  double prefix_logit_diff = 0;  // the largest logit_diff / logit_scale over positions 0..position
  bool greedy = false;
  // Greedy: the single-rank logit of its token minus that of the layout's token. Sampled: how far
  // the draw lay from the nearer edge of the single-rank token's share of the distribution.
  double margin = 0;
  double bound = 0;  // the dtype's bound on logit_diff / logit_scale
  int64_t layout_pick = 0, reference_pick = 0;  // what each model's logits pick with the request's draw
  bool numerics = false;

  bool reference_follows_its_model() const { return reference_pick == reference_token; }
  bool layout_follows_its_model() const { return layout_pick == layout_token; }
  double relative_logit_diff() const { return logit_scale > 0 ? logit_diff / logit_scale : logit_diff; }
  std::string describe() const;  // one line: where, the figures, the verdict and why
};

// The measured bound on the relative logit difference of a layout's AR against the single-rank
// model, per dtype (docs/checks.md#first-divergence).
double ar_logit_bound(c10::ScalarType dtype);

// Collective over the world: with `ar_tensor_parallel` every rank takes part in its TP group's
// teacher-forced pass; rank 0 also runs a freshly loaded single-rank AR model, classifies, and
// every rank returns rank 0's result. Generated ids: [1, T] int64, any device.
ArDivergence explain_first_divergence(GlmImageModels& models, const GlmImageParams& params, bool ar_tensor_parallel,
                                      const at::Tensor& layout_generated, const at::Tensor& reference_generated,
                                      RankContext& ctx);

}  // namespace glmh
