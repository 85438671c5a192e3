#include "pipeline/cache/step_mask_presets.h"

#include <array>
#include <map>
#include <numeric>

#include "pipeline/cache/dbcache_config.h"

namespace glmh {

namespace {

struct Bins {
  std::vector<int> compute, cache;
  int total() const {
    return std::accumulate(compute.begin(), compute.end(), 0) + std::accumulate(cache.begin(), cache.end(), 0);
  }
};

using Presets = std::map<std::string, Bins>;

// The presets as defined for 28 steps.
Presets presets_for_28() {
  return {{"slow", {{8, 3, 3, 2, 1, 1}, {1, 2, 2, 2, 3}}},
          {"medium", {{6, 2, 2, 2, 2, 1}, {1, 3, 3, 3, 3}}},
          {"fast", {{6, 1, 1, 1, 1, 1}, {1, 3, 4, 5, 4}}},
          {"ultra", {{4, 1, 1, 1, 1}, {2, 5, 6, 7}}}};
}

// Short runs (distilled models): 10 to 15 steps, 9 and 8 have tables of their own.
Presets presets_for_short(int steps) {
  if (steps == 8)
    return {{"slow", {{5, 1, 1}, {1}}}, {"medium", {{4, 1, 1}, {1, 1}}}, {"fast", {{3, 1, 1}, {1, 2}}},
            {"ultra", {{2, 1, 1}, {2, 2}}}};
  if (steps == 9)
    return {{"slow", {{5, 2, 1}, {1}}}, {"medium", {{5, 1, 1}, {1, 1}}}, {"fast", {{4, 1, 1}, {1, 2}}},
            {"ultra", {{3, 1, 1}, {2, 2}}}};
  return {{"slow", {{4, 2, 2, 2, 1}, {1, 1, 1, 1}}}, {"medium", {{4, 2, 1, 1, 1}, {1, 1, 2, 2}}},
          {"fast", {{3, 1, 1, 1, 1}, {1, 2, 2, 3}}}, {"ultra", {{2, 1, 1, 1, 1}, {1, 2, 3, 3}}}};
}

// Shortens the bins from the end, a cache bin then a compute bin, until they hold `steps`.
void truncate(Bins& b, int steps) {
  auto shorten_last = [](std::vector<int>& bins) {
    if (bins.empty()) return;
    if (--bins.back() == 0) bins.pop_back();
  };
  while (b.total() > steps) {
    shorten_last(b.cache);
    if (b.total() <= steps) break;
    shorten_last(b.compute);
  }
}

// Longer runs: each of the first bins grows by a share of its 28-step length, compute and cache
// alternately, keeping the presets' compute/cache ratio; then the bins are cut to `steps`.
void expand(Bins& b, int steps) {
  const Bins original = b;
  const size_t pairs = std::min(b.compute.size(), b.cache.size());
  // The release computes the growth as int(bin * ((steps / 28) * 0.5)) in double precision.
  auto growth = [steps](int bin) { return std::max(int(bin * ((double(steps) / 28) * 0.5)), 1); };
  while (b.total() < steps) {
    bool full = false;
    for (size_t i = 0; i < pairs && !full; ++i) {
      b.compute[i] += growth(original.compute[i]);
      if ((full = b.total() >= steps)) break;
      b.cache[i] += growth(original.cache[i]);
      full = b.total() >= steps;
    }
    if (full) break;
    b.compute.back() += 1;
  }
  truncate(b, steps);
}

}  // namespace

std::optional<std::string> step_mask_preset_name(const std::string& name) {
  static const std::map<std::string, std::string> names = {
      {"slow", "slow"}, {"medium", "medium"}, {"fast", "fast"}, {"ultra", "ultra"},
      {"s", "slow"},    {"m", "medium"},      {"f", "fast"},    {"u", "ultra"}};
  const auto it = names.find(name);
  if (it == names.end()) return std::nullopt;
  return it->second;
}

std::vector<int> step_mask_from_bins(const std::vector<int>& compute_bins, const std::vector<int>& cache_bins,
                                     int total_steps) {
  std::vector<int> mask;
  for (size_t i = 0; i < std::max(compute_bins.size(), cache_bins.size()) && int(mask.size()) < total_steps; ++i) {
    if (i < compute_bins.size()) mask.insert(mask.end(), compute_bins[i], 1);
    if (i < cache_bins.size()) mask.insert(mask.end(), cache_bins[i], 0);
  }
  if (int(mask.size()) < total_steps)
    throw CacheConfigError("step mask: the bins cover " + std::to_string(mask.size()) + " steps, the run has " +
                           std::to_string(total_steps));
  mask.resize(total_steps);
  return mask;
}

std::vector<int> step_mask_preset(const std::string& name_or_alias, int total_steps) {
  const auto name = step_mask_preset_name(name_or_alias);
  if (!name)
    throw CacheConfigError("step mask preset '" + name_or_alias + "': expected slow, medium, fast or ultra (s, m, f, u)");
  Bins bins;
  if (total_steps >= 16) {
    bins = presets_for_28().at(*name);
    if (total_steps > 28) expand(bins, total_steps);
    truncate(bins, total_steps);
  } else if (total_steps >= 8) {
    bins = presets_for_short(total_steps).at(*name);
    truncate(bins, total_steps);
  } else if (total_steps == 4) {
    bins = {{2, 1}, {1}};
  } else if (total_steps == 6) {
    bins = {{3, 1}, {2}};
  } else {
    throw CacheConfigError("step mask preset '" + *name + "': cache-dit defines presets for 4, 6 or at least 8 steps, not " +
                           std::to_string(total_steps));
  }
  std::vector<int> mask = step_mask_from_bins(bins.compute, bins.cache, total_steps);
  mask.back() = 1;  // the last step always computes
  return mask;
}

}  // namespace glmh
