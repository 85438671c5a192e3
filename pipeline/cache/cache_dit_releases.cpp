#include "pipeline/cache/cache_dit_releases.h"

#include <sstream>

namespace glmh {

// The data file's text (generated from cache_dit_releases.csv by CMake).
extern const char* const kCacheDitReleasesCsv;

namespace {

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, sep)) out.push_back(cell);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

std::vector<CacheDitRelease> read_releases() {
  std::vector<CacheDitRelease> releases;
  std::istringstream in(kCacheDitReleasesCsv);
  std::string line;
  int number = 0;
  bool header = true;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = "pipeline/cache/cache_dit_releases.csv:" + std::to_string(number);
    const auto cells = split(line, ',');
    if (cells.size() != 5) throw std::logic_error(where + ": expected 5 columns");
    if (header) {
      header = false;
      continue;
    }
    CacheDitRelease r;
    r.version = cells[0];
    if (cells[1] == "plus-two") r.continuous_rule = ContinuousRule::PlusTwo;
    else if (cells[1] == "reset") r.continuous_rule = ContinuousRule::Reset;
    else throw std::logic_error(where + ": continuous_rule '" + cells[1] + "'");
    r.prints_refresh_policy = cells[2] == "yes";
    r.default_cache = cells[3];
    r.generator_device = cells[4];
    releases.push_back(r);
  }
  if (releases.empty()) throw std::logic_error("pipeline/cache/cache_dit_releases.csv: no releases");
  return releases;
}

}  // namespace

const std::vector<CacheDitRelease>& cache_dit_releases() {
  static const std::vector<CacheDitRelease> releases = read_releases();
  return releases;
}

const CacheDitRelease& latest_cache_dit_release() { return cache_dit_releases().back(); }

const CacheDitRelease& cache_dit_release(const std::string& version) {
  std::string known;
  for (const auto& r : cache_dit_releases()) {
    if (r.version == version) return r;
    known += (known.empty() ? "" : ", ") + r.version;
  }
  throw CacheConfigError("cache-dit@" + version + ": glmh has no rules for this release (known: " + known + ")");
}

std::string CacheProfile::describe() const {
  return enabled ? "cache-dit@" + release.version + ":" + config.strify(release.prints_refresh_policy) : "none";
}

CacheProfile CacheProfile::for_steps(int steps) const {
  CacheProfile p = *this;
  if (enabled) p.config = config.for_steps(steps);
  return p;
}

CacheProfile parse_cache_profile(const std::string& text) {
  CacheProfile p;
  if (text.empty() || text == "none") return p;
  p.enabled = true;
  const std::string prefix = "cache-dit@";
  std::string config = text;
  if (text.rfind(prefix, 0) == 0) {
    const auto colon = text.find(':');
    p.release = cache_dit_release(text.substr(prefix.size(), colon == std::string::npos ? std::string::npos
                                                                                       : colon - prefix.size()));
    config = colon == std::string::npos ? p.release.default_cache : text.substr(colon + 1);
  } else {
    p.release = latest_cache_dit_release();
  }
  p.config = DbCacheConfig::parse(config);
  // GLM-Image's adapter runs the two CFG branches with separate state.
  if (!p.config.separate_cfg) p.config.separate_cfg = true;
  if (!*p.config.separate_cfg)
    throw CacheConfigError("cache config '" + config + "': _CFG0 (one state for both CFG branches) is not how "
                           "cache-dit runs GLM-Image");
  return p;
}

}  // namespace glmh
