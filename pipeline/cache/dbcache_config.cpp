#include "pipeline/cache/dbcache_config.h"

#include "pipeline/cache/step_mask_presets.h"

#include <cstdlib>
#include <regex>
#include <vector>

namespace glmh {

namespace {

int integer_of(const std::string& digits) {
  try {
    return std::stoi(digits);
  } catch (const std::out_of_range&) {
    throw CacheConfigError("cache config: " + digits + " is out of range");
  }
}

}  // namespace

DbCacheConfig DbCacheConfig::parse(const std::string& text) {
  // Each optional part in cache-dit's order; a part that does not match is reported by name.
  static const std::regex head(R"(^DBCache_F(\d+)B(\d+)_W(\d+)I(\d+)M(\d+)MC(\d+)_R([0-9.eE+-]+))");
  std::smatch m;
  if (!std::regex_search(text, m, head))
    throw CacheConfigError("cache config '" + text + "': expected DBCache_F{Fn}B{Bn}_W{w}I{i}M{m}MC{mc}_R{threshold}...");
  DbCacheConfig c;
  c.fn = integer_of(m[1]);
  c.bn = integer_of(m[2]);
  c.max_warmup_steps = integer_of(m[3]);
  c.warmup_interval = integer_of(m[4]);
  c.max_cached_steps = integer_of(m[5]) == 0 ? -1 : integer_of(m[5]);
  c.max_continuous_cached_steps = integer_of(m[6]) == 0 ? -1 : integer_of(m[6]);
  c.threshold_text = m[7];
  char* end = nullptr;
  c.residual_diff_threshold = std::strtod(c.threshold_text.c_str(), &end);
  if (end == c.threshold_text.c_str() || *end != '\0')
    throw CacheConfigError("cache config '" + text + "': threshold R" + c.threshold_text + " is not a number");
  std::string rest = m.suffix().str();

  // Each optional part in cache-dit's order: its groups as strings (the match points into `rest`,
  // which the lambda then shortens).
  auto take = [&rest](const std::regex& part, std::vector<std::string>& groups) {
    std::smatch m;
    if (!std::regex_search(rest, m, part)) return false;
    groups.assign(m.begin(), m.end());
    rest = m.suffix().str();
    return true;
  };
  std::vector<std::string> p;
  if (take(std::regex(R"(^_SCM([01]+|[a-z]+)_(static|dynamic))"), p)) {
    if (p[1][0] == '0' || p[1][0] == '1') {
      for (char d : p[1]) c.steps_mask.push_back(d - '0');
    } else if (const auto preset = step_mask_preset_name(p[1])) {
      c.mask_preset = *preset;
    } else {
      throw CacheConfigError("cache config '" + text + "': _SCM" + p[1] +
                             ": expected mask digits or a preset (slow, medium, fast, ultra; s, m, f, u)");
    }
    c.mask_policy = p[2] == "static" ? StepMaskPolicy::Static : StepMaskPolicy::Dynamic;
  }
  if (take(std::regex(R"(^_N(\d+))"), p)) c.num_inference_steps = integer_of(p[1]);
  if (take(std::regex(R"(^_FR(\d+)(_(once|repeat))?)"), p)) {
    c.force_refresh_step_hint = integer_of(p[1]);
    c.refresh_policy = p[3] == "repeat" ? RefreshPolicy::Repeat : RefreshPolicy::Once;
  }
  if (take(std::regex(R"(^_CFG([01]))"), p)) c.separate_cfg = p[1] == "1";
  if (take(std::regex(R"(^_T([01])O(\d+))"), p)) {
    c.taylorseer_order = p[1] == "1" ? integer_of(p[2]) : 0;
    if (c.taylorseer_order > 3)
      throw CacheConfigError("cache config '" + text + "': TaylorSeer order " + p[2] + " (glmh supports 1 to 3)");
  }
  take(std::regex(R"(^_S\d+)"), p);
  if (!rest.empty()) throw CacheConfigError("cache config '" + text + "': cannot read '" + rest + "'");
  if (c.fn < 1) throw CacheConfigError("cache config '" + text + "': Fn must be at least 1");
  if (c.warmup_interval < 1) throw CacheConfigError("cache config '" + text + "': warmup interval must be at least 1");
  return c;
}

std::string DbCacheConfig::strify(bool refresh_policy_printed) const {
  std::string s = "DBCache_F" + std::to_string(fn) + "B" + std::to_string(bn) + "_W" + std::to_string(max_warmup_steps) +
                  "I" + std::to_string(warmup_interval) + "M" + std::to_string(std::max(0, max_cached_steps)) + "MC" +
                  std::to_string(std::max(0, max_continuous_cached_steps)) + "_R" + threshold_text;
  if (!steps_mask.empty() || !mask_preset.empty()) {
    s += "_SCM" + mask_preset;
    for (int v : steps_mask) s += char('0' + v);
    s += mask_policy == StepMaskPolicy::Static ? "_static" : "_dynamic";
  }
  if (num_inference_steps) s += "_N" + std::to_string(*num_inference_steps);
  if (force_refresh_step_hint) {
    s += "_FR" + std::to_string(*force_refresh_step_hint);
    if (refresh_policy_printed) s += refresh_policy == RefreshPolicy::Once ? "_once" : "_repeat";
  }
  if (separate_cfg) s += *separate_cfg ? "_CFG1" : "_CFG0";
  return s;
}

DbCacheConfig DbCacheConfig::for_steps(int steps) const {
  DbCacheConfig c = *this;
  if (!mask_preset.empty()) {
    try {
      c.steps_mask = step_mask_preset(mask_preset, steps);
    } catch (const CacheConfigError& e) {
      throw CacheConfigError("cache config '" + strify() + "': " + e.what());
    }
    c.mask_preset.clear();
  }
  return c;
}

}  // namespace glmh
