// The cache-dit releases whose rules glmh reproduces, from the data file
// pipeline/cache/cache_dit_releases.csv (compiled in), and how a user names a cache profile:
//
//   none                         no caching
//   cache-dit@VERSION            what a user of that release gets by default for GLM-Image
//   [cache-dit@VERSION:]CONFIG   CONFIG (as cache-dit prints it, see dbcache_config.h) under that
//                                release's rules; without @VERSION the latest release's
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/cache/dbcache_config.h"

namespace glmh {

enum class ContinuousRule {
  PlusTwo,  // <= 1.5.2
  Reset,    // 1.5.3
};

struct CacheDitRelease {
  std::string version;
  ContinuousRule continuous_rule = ContinuousRule::Reset;
  bool prints_refresh_policy = true;
  std::string default_cache;      // the examples' --cache for GLM-Image
  std::string generator_device;   // "cpu" or "cuda"
};

// Every release of the data file, oldest first.
const std::vector<CacheDitRelease>& cache_dit_releases();
const CacheDitRelease& latest_cache_dit_release();
// Throws CacheConfigError listing the known releases.
const CacheDitRelease& cache_dit_release(const std::string& version);

struct CacheProfile {
  bool enabled = false;
  CacheDitRelease release;
  DbCacheConfig config;
  // The profile as the user can give it again: "none" or "cache-dit@V:CONFIG".
  std::string describe() const;
  // The profile for a run of `steps` denoising steps (a mask preset expanded; DbCacheConfig::for_steps).
  CacheProfile for_steps(int steps) const;
};

// Throws CacheConfigError naming what it cannot read.
CacheProfile parse_cache_profile(const std::string& text);

}  // namespace glmh
