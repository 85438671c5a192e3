#include "harness/checks/cache_consistency_check.h"
#include "harness/io/number_text.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

const char* branch_name(int b) { return b == 0 ? "cond" : "uncond"; }

std::string number(double v) { return std::isnan(v) ? "none" : number_text(v, "%.6g"); }

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

CheckResult cache_consistency_check(const CacheDecisions& mine, const CacheDecisions& reference, double threshold,
                                    RankContext& ctx, CacheDecisions& merged) {
  const std::string name = "cache_consistency";
  Communicator& world = ctx.group(GroupKind::World);
  const int n = world.size();
  const int64_t steps = mine.hits.size(1);
  // Every rank's decisions and values, on every rank (hits as doubles: exact for -1, 0, 1).
  const at::Tensor local = at::cat({mine.hits.to(at::kDouble).reshape({-1}), mine.diffs.reshape({-1})})
                               .to(ctx.device()).contiguous();
  at::Tensor all = at::empty({n, local.numel()}, local.options());
  world.all_gather(all, local);
  ctx.synchronize_device();
  const at::Tensor rows = all.cpu();
  auto hit_of = [&](int rank, int b, int64_t s) { return rows[rank][b * steps + s].item<double>(); };
  auto diff_of = [&](int rank, int b, int64_t s) { return rows[rank][2 * steps + b * steps + s].item<double>(); };

  merged.hits = at::full({2, steps}, -1, at::kLong);
  merged.diffs = at::full({2, steps}, std::nan(""), at::kDouble);
  std::vector<std::string> problems;
  int compared_ranks = 0;
  for (int b = 0; b < 2; ++b) {
    int first = -1;  // the first rank that ran this branch
    for (int r = 0; r < n; ++r) {
      if (hit_of(r, b, 0) < 0) continue;
      if (first < 0) {
        first = r;
        ++compared_ranks;
        continue;
      }
      ++compared_ranks;
      for (int64_t s = 0; s < steps; ++s) {
        if (hit_of(r, b, s) == hit_of(first, b, s) && same(diff_of(r, b, s), diff_of(first, b, s))) continue;
        problems.push_back("rank " + std::to_string(r) + " " + branch_name(b) + " step " + std::to_string(s) + ": " +
                           (hit_of(r, b, s) > 0 ? "cached" : "computed") + " at diff " + number(diff_of(r, b, s)) +
                           ", rank " + std::to_string(first) + " " + (hit_of(first, b, s) > 0 ? "cached" : "computed") +
                           " at diff " + number(diff_of(first, b, s)));
        break;  // the first divergence per rank and branch
      }
    }
    if (first < 0) continue;
    for (int64_t s = 0; s < steps; ++s) {
      merged.hits[b][s] = int64_t(hit_of(first, b, s));
      merged.diffs[b][s] = diff_of(first, b, s);
    }
  }

  std::vector<std::string> flips, near;
  if (reference.hits.defined()) {
    if (!reference.hits.sizes().equals(merged.hits.sizes())) {
      problems.push_back("the single-rank run's decisions have another shape");
    } else {
      for (int b = 0; b < 2; ++b)
        for (int64_t s = 0; s < steps; ++s) {
          const int64_t want = reference.hits[b][s].item<int64_t>(), got = merged.hits[b][s].item<int64_t>();
          if (got < 0 || want == got) continue;
          const double d = merged.diffs[b][s].item<double>(), d_ref = reference.diffs[b][s].item<double>();
          const bool near_threshold = !std::isnan(d) && !std::isnan(d_ref) &&
                                      std::abs(d - threshold) <= 0.01 * threshold &&
                                      std::abs(d_ref - threshold) <= 0.01 * threshold;
          (near_threshold ? near : flips)
              .push_back(std::string(branch_name(b)) + " step " + std::to_string(s) + ": " +
                         (got > 0 ? "cached" : "computed") + " at diff " + number(d) + ", single rank " +
                         (want > 0 ? "cached" : "computed") + " at diff " + number(d_ref) + " (threshold " +
                         number(threshold) + ")");
        }
    }
  }
  auto join = [](const std::vector<std::string>& items) {
    std::string s;
    for (const auto& i : items) s += (s.empty() ? "" : "; ") + i;
    return s;
  };
  std::string detail;
  if (!problems.empty()) detail = "ranks disagree: " + join(problems);
  if (!flips.empty()) detail += std::string(detail.empty() ? "" : "; ") + "differs from the single-rank run: " + join(flips);
  if (!near.empty()) detail += std::string(detail.empty() ? "" : "; ") + "near-threshold flips: " + join(near);
  const int64_t cached = (merged.hits > 0).sum().item<int64_t>();
  const bool passed = problems.empty() && flips.empty();
  if (passed) {
    const std::string summary = "identical decisions on the " + std::to_string(compared_ranks) + " rank-branches; " +
                                std::to_string(cached) + " cached calls" +
                                (reference.hits.defined() ? ", the single-rank run's steps" : "");
    detail = detail.empty() ? summary : summary + "; " + detail;
  }
  return CheckResult::pass_or_fail(name, passed, double(problems.size() + flips.size()), 0, detail);
}

}  // namespace glmh
