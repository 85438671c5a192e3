#include "harness/caching/cache_schedule.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

int64_t CacheSchedule::steps() const { return decisions.hits.defined() ? decisions.hits.size(1) : 0; }

std::vector<int> CacheSchedule::cached_steps(int branch) const {
  std::vector<int> steps;
  if (!decisions.hits.defined()) return steps;
  const at::Tensor row = decisions.hits[branch].contiguous();
  const int64_t* h = row.data_ptr<int64_t>();
  for (int64_t s = 0; s < row.numel(); ++s)
    if (h[s] == 1) steps.push_back(int(s));
  return steps;
}

int64_t CacheSchedule::calls() const {
  return decisions.hits.defined() ? (decisions.hits >= 0).sum().item<int64_t>() : 0;
}

int64_t CacheSchedule::cached_calls() const {
  return decisions.hits.defined() ? (decisions.hits == 1).sum().item<int64_t>() : 0;
}

double CacheSchedule::hit_rate() const { return calls() > 0 ? double(cached_calls()) / double(calls()) : 0.0; }

double CacheSchedule::ideal_speedup(bool branches_in_parallel) const {
  if (dit_layers <= 0 || calls() == 0) return std::numeric_limits<double>::quiet_NaN();
  const DbCacheConfig config = parse_cache_profile(profile).config;
  const double cached_cost = double(std::min<int64_t>(config.fn + config.bn, dit_layers)) / double(dit_layers);
  double uncached = 0, cached = 0;
  const at::Tensor hits_tensor = decisions.hits.contiguous();
  const auto hits = hits_tensor.accessor<int64_t, 2>();
  for (int64_t s = 0; s < hits.size(1); ++s) {
    double step_uncached = 0, step_cached = 0;
    for (int64_t b = 0; b < hits.size(0); ++b) {
      const int64_t h = hits[b][s];
      if (h < 0) continue;
      const double cost = h == 1 ? cached_cost : 1.0;
      step_uncached = branches_in_parallel ? std::max(step_uncached, 1.0) : step_uncached + 1.0;
      step_cached = branches_in_parallel ? std::max(step_cached, cost) : step_cached + cost;
    }
    uncached += step_uncached;
    cached += step_cached;
  }
  return cached > 0 ? uncached / cached : std::numeric_limits<double>::quiet_NaN();
}

CacheSchedule read_cache_schedule(const std::string& path) {
  const std::string file = posix_fs::is_directory(path) ? path + "/cache_hits.safetensors" : path;
  if (!posix_fs::exists(file)) throw CheckpointError(file + ": no such file (not a cached run?)");
  const auto st = SafetensorsFile::open(file);
  if (!st->contains("cache_hits")) throw CheckpointError(file + ": no tensor 'cache_hits'");
  CacheSchedule s;
  s.decisions.hits = st->tensor("cache_hits").to(at::kLong).clone();
  // Older files of glmh forward hold no diffs: every decision then reads as taken by a rule.
  s.decisions.diffs = st->contains("cache_diffs") ? st->tensor("cache_diffs").to(at::kDouble).clone()
                                                  : at::full(s.decisions.hits.sizes(), NAN, at::kDouble);
  if (s.decisions.hits.dim() != 2 || s.decisions.hits.size(0) != 2 || s.decisions.diffs.sizes() != s.decisions.hits.sizes())
    throw CheckpointError(file + ": cache_hits and cache_diffs must both be [2, steps]");
  const auto& meta = st->metadata();
  if (const auto it = meta.find("cache"); it != meta.end()) s.profile = it->second;
  if (const auto it = meta.find("dit_layers"); it != meta.end()) {
    try {
      s.dit_layers = std::stoll(it->second);
    } catch (const std::exception&) {
      throw CheckpointError(file + ": metadata dit_layers '" + it->second + "' is not a number");
    }
  }
  return s;
}

void write_cache_schedule(const std::string& path, const CacheSchedule& schedule, const std::string& producer) {
  std::map<std::string, std::string> meta = {{"producer", producer}, {"cache", schedule.profile}};
  if (schedule.dit_layers > 0) meta["dit_layers"] = std::to_string(schedule.dit_layers);
  write_safetensors(path, {{"cache_hits", schedule.decisions.hits}, {"cache_diffs", schedule.decisions.diffs}}, meta);
}

std::string steps_text(const std::vector<int>& steps) {
  if (steps.empty()) return "none";
  std::string text;
  for (int s : steps) text += (text.empty() ? "" : " ") + std::to_string(s);
  return text;
}

}  // namespace glmh
