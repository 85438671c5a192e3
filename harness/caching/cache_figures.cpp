#include "harness/caching/cache_figures.h"

#include <map>

#include "harness/caching/cache_schedule.h"
#include "harness/timing/bench_figures.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

std::string uncached_key(const Scenario& s) {
  Scenario plain = s;
  plain.cache = "none";
  std::string key;
  for (const auto& a : plain.run_arguments()) key += a + '\x1f';
  return key;
}

void add_cache_figures(std::vector<ScenarioOutcome>& outcomes) {
  std::map<std::string, const ScenarioOutcome*> uncached;
  for (const auto& o : outcomes)
    if (o.scenario.cache == "none" && o.passed) uncached.emplace(uncached_key(o.scenario), &o);
  for (auto& o : outcomes) {
    if (o.scenario.cache == "none" || !posix_fs::exists(o.run_dir + "/cache_hits.safetensors")) continue;
    const CacheSchedule schedule = read_cache_schedule(o.run_dir);
    o.performance.emplace_back(kCacheHitRate, schedule.hit_rate());
    const double ideal = schedule.ideal_speedup(o.scenario.cfg > 1);
    if (ideal == ideal) o.performance.emplace_back(kCacheIdealSpeedup, ideal);
    const auto it = uncached.find(uncached_key(o.scenario));
    const double cached_seconds = denoising_seconds(o);
    if (it != uncached.end() && cached_seconds > 0 && denoising_seconds(*it->second) > 0)
      o.performance.emplace_back(kSpeedupOverUncached, denoising_seconds(*it->second) / cached_seconds);
  }
}

}  // namespace glmh
