#include "harness/caching/cache_profile_comparison.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "harness/caching/cache_schedule.h"
#include "harness/checks/output_comparison.h"
#include "harness/io/number_text.h"
#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

// PSNR and SSIM of run `a`'s image against `b_dir`'s; nullopt-like (NaN) when either is missing.
struct ImageScores {
  double psnr = NAN, ssim = NAN;
  std::string missing;
};

ImageScores score_images(const std::string& a_dir, const std::string& b_dir) {
  const std::string a = a_dir + "/image.png", b = b_dir + "/image.png";
  ImageScores s;
  if (!posix_fs::exists(a)) s.missing = a;
  else if (!posix_fs::exists(b)) s.missing = b;
  if (!s.missing.empty()) return s;
  const OutputComparison c = compare_files(a, b);
  s.psnr = c.psnr_db;
  s.ssim = c.ssim;
  return s;
}

CheckResult image_gate(const std::string& name, const ImageScores& s, double min_psnr, double min_ssim,
                       const std::string& against) {
  if (!s.missing.empty()) return CheckResult::not_applicable(name, "no image to compare: " + s.missing);
  const bool passed = s.psnr > min_psnr && s.ssim > min_ssim;
  return CheckResult::pass_or_fail(name, passed, s.psnr, min_psnr,
                                   "PSNR " + (std::isinf(s.psnr) ? std::string("inf") : number_text(s.psnr, "%.2f")) + " dB, SSIM " +
                                       number_text(s.ssim, "%.4f") + " against " + against + " (gates: PSNR > " + number_text(min_psnr, "%.0f") +
                                       " dB, SSIM > " + number_text(min_ssim, "%.2f") + ")");
}

void record(ScenarioOutcome& o, CheckResult check) {
  if (check.failed() && o.passed) {
    o.passed = false;
    o.reason = check.name + ": " + check.detail;
  }
  o.checks.push_back(std::move(check));
}

// Why a call went the way it did under one profile: the diff against the threshold, or the rule.
std::string decision_text(const CacheSchedule& s, double threshold, int branch, int64_t step) {
  const bool hit = s.decisions.hits[branch][step].item<int64_t>() == 1;
  const double diff = s.decisions.diffs[branch][step].item<double>();
  std::string text = hit ? "cached" : "computed";
  if (std::isnan(diff)) return text + " (by a rule: warmup, mask or limit)";
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, " (diff %.4g %s %.4g%s)", diff, diff < threshold ? "<" : ">=", threshold,
                std::fabs(diff - threshold) <= 0.02 * threshold ? ", near the threshold" : "");
  return text + buffer;
}

CheckResult schedule_change(const ScenarioOutcome& a, const ScenarioOutcome& b, bool require_same, int& changed) {
  const std::string name = "cache_schedule_change";
  const CacheSchedule sa = read_cache_schedule(a.run_dir), sb = read_cache_schedule(b.run_dir);
  if (sa.steps() != sb.steps()) return CheckResult::pass_or_fail(name, false, NAN, 0, "the runs have different step counts");
  const double ta = parse_cache_profile(sa.profile).config.residual_diff_threshold;
  const double tb = parse_cache_profile(sb.profile).config.residual_diff_threshold;
  changed = 0;
  std::string detail;
  for (int branch = 0; branch < 2; ++branch) {
    const char* label = branch == 0 ? "cond" : "uncond";
    const std::vector<int> ca = sa.cached_steps(branch), cb = sb.cached_steps(branch);
    std::string flips;
    for (int64_t k = 0; k < sa.steps(); ++k) {
      if (sa.decisions.hits[branch][k].item<int64_t>() == sb.decisions.hits[branch][k].item<int64_t>()) continue;
      ++changed;
      flips += "; step " + std::to_string(k) + ": A " + decision_text(sa, ta, branch, k) + ", B " +
               decision_text(sb, tb, branch, k);
    }
    detail += std::string(branch ? " | " : "") + label + ": " +
              (ca == cb ? "same cached steps (" + steps_text(ca) + ")"
                        : "A caches " + steps_text(ca) + ", B " + steps_text(cb) + flips);
  }
  if (changed == 0) detail = "no decision changed; " + detail;
  else detail = std::to_string(changed) + " decision(s) changed; " + detail;
  return CheckResult::pass_or_fail(name, !require_same || changed == 0, changed, 0, detail);
}

}  // namespace

void compare_cache_profiles(const ScenarioOutcome& uncached, ScenarioOutcome& a, ScenarioOutcome& b,
                            const CacheDiffGates& gates) {
  for (ScenarioOutcome* o : {&a, &b}) {
    const ImageScores vs_uncached = score_images(o->run_dir, uncached.run_dir);
    record(*o, image_gate("cache_image_quality", vs_uncached, gates.min_psnr_vs_uncached, gates.min_ssim_vs_uncached,
                          "the uncached run on this layout"));
    if (vs_uncached.missing.empty()) {
      o->performance.emplace_back("psnr:vs_uncached", vs_uncached.psnr);
      o->performance.emplace_back("ssim:vs_uncached", vs_uncached.ssim);
    }
    if (o->scenario.world_size > 1 && !o->reference_dir.empty()) {
      const ImageScores vs_single = score_images(o->run_dir, o->reference_dir);
      record(*o, image_gate("cache_parallel_parity", vs_single, gates.min_psnr_parallel, gates.min_ssim_parallel,
                            "the single-rank run with this profile"));
      if (vs_single.missing.empty()) {
        o->performance.emplace_back("psnr:vs_single_rank", vs_single.psnr);
        o->performance.emplace_back("ssim:vs_single_rank", vs_single.ssim);
      }
    }
  }
  const ImageScores b_vs_a = score_images(b.run_dir, a.run_dir);
  if (b_vs_a.missing.empty()) {
    b.performance.emplace_back("psnr:vs_a", b_vs_a.psnr);
    b.performance.emplace_back("ssim:vs_a", b_vs_a.ssim);
  }
  if (posix_fs::exists(a.run_dir + "/cache_hits.safetensors") && posix_fs::exists(b.run_dir + "/cache_hits.safetensors")) {
    int changed = 0;
    record(b, schedule_change(a, b, gates.require_same_schedule, changed));
    b.performance.emplace_back("cache_changed_calls", changed);
  } else {
    record(b, CheckResult::not_applicable("cache_schedule_change", "a run wrote no cache decisions"));
  }
}

}  // namespace glmh
