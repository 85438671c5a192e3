#include "harness/checks/output_parity_check.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "pipeline/runtime/rank_context.h"
#include "harness/checks/output_comparison.h"
#include "harness/checks/rank_gather.h"
#include "harness/io/number_text.h"

namespace glmh {

namespace {


// Index of the worst value (max when `larger_is_worse`).
int worst_rank(const std::vector<double>& values, bool larger_is_worse) {
  int worst = 0;
  for (int r = 1; r < int(values.size()); ++r)
    if (larger_is_worse ? values[r] > values[worst] : values[r] < values[worst]) worst = r;
  return worst;
}

}  // namespace

ParityThresholds default_parity_thresholds(bool bf16) {
  ParityThresholds t;
  if (bf16) {
    t.min_cosine = 0.999;
    t.min_psnr_db = 30.0;
    t.min_ssim = 0.98;
  } else {
    t.latent_tolerance = 1e-5;
    t.min_psnr_db = 60.0;
    t.min_ssim = 0.999;
  }
  return t;
}

ParityThresholds ParityOverrides::apply_to(ParityThresholds t) const {
  if (latent_tolerance) t.latent_tolerance = *latent_tolerance;
  if (min_cosine) t.min_cosine = *min_cosine;
  if (min_psnr_db) t.min_psnr_db = *min_psnr_db;
  if (min_ssim) t.min_ssim = *min_ssim;
  return t;
}

double psnr_db(const at::Tensor& image, const at::Tensor& reference) {
  const double mse = (image.to(at::kDouble) - reference.to(at::kDouble)).pow(2).mean().item<double>();
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

std::vector<CheckResult> output_parity_checks(const at::Tensor& latents, const at::Tensor& image,
                                              const ParityReference& reference, bool bf16,
                                              const ParityThresholds& thresholds, RankContext& ctx) {
  Communicator& world = ctx.group(GroupKind::World);
  const at::Tensor out = latents.cpu().to(at::kDouble), ref = reference.latents.cpu().to(at::kDouble);
  const bool same_shape = out.sizes() == ref.sizes();
  std::vector<CheckResult> results;
  const std::string shapes = "latents " + std::string(same_shape ? "" : "shape differs from the reference's");
  if (!bf16) {
    const double err = same_shape ? ((out - ref).abs().max() / ref.abs().max()).item<double>()
                                  : std::numeric_limits<double>::infinity();
    const std::vector<double> all = gather_values(world, err);
    const int w = worst_rank(all, true);
    results.push_back(CheckResult::pass_or_fail(
        "output_parity", all[w] <= thresholds.latent_tolerance, all[w], thresholds.latent_tolerance,
        same_shape ? "max |latents - single-rank| / max |single-rank| = " + number_text(all[w], "%.3g") + " (worst on rank " +
                         std::to_string(w) + ")"
                   : shapes));
  } else {
    const double cos = same_shape ? (at::dot(out.reshape({-1}), ref.reshape({-1})) / (out.norm() * ref.norm())).item<double>()
                                  : -1.0;
    const std::vector<double> all = gather_values(world, cos);
    const int w = worst_rank(all, false);
    results.push_back(CheckResult::pass_or_fail(
        "output_parity", all[w] >= thresholds.min_cosine, all[w], thresholds.min_cosine,
        same_shape ? "cosine(latents, single-rank) = " + std::to_string(all[w]) + " (worst on rank " + std::to_string(w) + ")"
                   : shapes));
  }
  // The image: rank 0's, against the reference image.
  double psnr = std::numeric_limits<double>::quiet_NaN(), ssim = psnr;
  std::string why;
  if (ctx.rank() == 0) {
    if (!reference.image.defined()) why = "the reference has no image";
    else if (!image.defined()) why = "rank 0 decoded no image";
    else if (image.sizes() != reference.image.sizes()) why = "image size differs from the reference's";
    else {
      psnr = psnr_db(image, reference.image);
      ssim = image_ssim(image, reference.image);
    }
  }
  psnr = gather_values(world, psnr)[0];
  ssim = gather_values(world, ssim)[0];
  why = world.broadcast_bytes(why, 0);
  const std::string name = "image_parity";
  if (!why.empty() && !bf16) {
    results.push_back(CheckResult::not_applicable(name, why));
  } else if (!why.empty()) {
    results.push_back(CheckResult::pass_or_fail(name, false, 0, thresholds.min_psnr_db, why));
  } else {
    // SSIM is undefined (NaN) for images below the 11-pixel window: PSNR alone decides then.
    const bool ssim_ok = std::isnan(ssim) || ssim >= thresholds.min_ssim;
    const std::string detail = "PSNR(image, single-rank image) = " +
                               (std::isinf(psnr) ? "inf (identical)" : number_text(psnr, "%.3g") + " dB") + ", SSIM " +
                               (std::isnan(ssim) ? std::string("n/a") : number_text(ssim, "%.6f")) + " (least: " +
                               number_text(thresholds.min_psnr_db, "%.3g") + " dB, " + number_text(thresholds.min_ssim, "%.3g") + ")";
    results.push_back(
        CheckResult::pass_or_fail(name, psnr >= thresholds.min_psnr_db && ssim_ok, psnr, thresholds.min_psnr_db, detail));
  }
  return results;
}

}  // namespace glmh
