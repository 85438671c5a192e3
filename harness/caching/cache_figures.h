// The figures of cached runs among a set of scenario outcomes (glmh bench, glmh cache-diff): each
// cached run's hit rate and ideal denoising speedup, read from its run directory's decisions, and
// its measured denoising speedup over the uncached run of the same request on the same layout when
// that run is among the outcomes. docs/caching.md#figures.
#pragma once

#include <string>
#include <vector>

#include "harness/reports/scenario_outcome.h"

namespace glmh {

// Figure names, as results.csv records them and glmh gate reads them.
inline constexpr const char* kCacheHitRate = "cache_hit_rate";
inline constexpr const char* kCacheIdealSpeedup = "cache_ideal_speedup";
inline constexpr const char* kSpeedupOverUncached = "speedup:over_uncached";

// The same request on the same layout with caching off: what pairs a cached run with its uncached one.
std::string uncached_key(const Scenario& s);

// Adds the figures above to every cached outcome whose run wrote its decisions. Throws
// CheckpointError for a decisions file it cannot read.
void add_cache_figures(std::vector<ScenarioOutcome>& outcomes);

}  // namespace glmh
