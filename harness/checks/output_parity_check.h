// Output parity with the single-rank run of the same scenario (docs/checks.md#output_parity):
//   fp32 — max |latents - reference| <= 1e-4 x max |reference|;
//   bf16 — cosine(latents, reference) >= 0.999, and the image's PSNR against the reference
//          image >= 40 dB (the image is held to 40 dB in fp32 too).
// Every rank's final latents are checked (they were gathered after the loop, so each rank holds
// them all); the worst rank is the value. The image exists on world rank 0 only (MAIN_RANK_ONLY
// decoding), so the PSNR is rank 0's.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include <vector>

#include "harness/checks/check_result.h"

namespace glmh {

class RankContext;

struct ParityReference {
  at::Tensor latents;       // fp32 [1, 16, H', W']
  at::Tensor image;         // uint8 [H, W, 3]; may be undefined
  at::Tensor prior_tokens;  // int64 prior_token_id; may be undefined
  at::Tensor generated_ids;  // int64 ar_generated_ids (every token the AR generated); may be undefined
};

struct ParityThresholds {
  double latent_tolerance = 1e-5;  // fp32: max |out - ref| / max |ref|
  double min_cosine = 0.999;       // bf16: cosine of the latents
  double min_psnr_db = 60.0;       // the image
  double min_ssim = 0.999;         // the image
};

// The thresholds of a run in fp32 or bf16, set from the measured floors with a stated margin
// (docs/checks.md#floors-and-thresholds).
ParityThresholds default_parity_thresholds(bool bf16);

// User overrides (unset: the dtype's default).
struct ParityOverrides {
  std::optional<double> latent_tolerance, min_cosine, min_psnr_db, min_ssim;
  ParityThresholds apply_to(ParityThresholds t) const;
};

// Collective over the world. `image` is rank 0's (undefined elsewhere). Gives output_parity (the
// latents: relative max error in fp32, cosine in bf16) and image_parity.
std::vector<CheckResult> output_parity_checks(const at::Tensor& latents, const at::Tensor& image,
                                              const ParityReference& reference, bool bf16,
                                              const ParityThresholds& thresholds, RankContext& ctx);

// PSNR in dB of two uint8 images of the same shape (infinity when identical).
double psnr_db(const at::Tensor& image, const at::Tensor& reference);

}  // namespace glmh
