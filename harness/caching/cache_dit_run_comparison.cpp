#include "harness/caching/cache_dit_run_comparison.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include "harness/caching/cache_schedule.h"
#include "harness/checks/output_comparison.h"
#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<int> steps_from_json(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.contains(key)) throw std::invalid_argument(path + ": no \"" + key + "\" (a list of step indices)");
  if (!j[key].is_array()) throw std::invalid_argument(path + ": \"" + key + "\" must be a list of step indices");
  std::set<int> steps;
  for (const auto& v : j[key]) {
    if (!v.is_number_integer() || v.get<long long>() < 0)
      throw std::invalid_argument(path + ": \"" + key + "\" holds " + v.dump() + ", not a step index");
    steps.insert(v.get<int>());
  }
  return {steps.begin(), steps.end()};
}

CheckResult steps_match(const CacheSchedule& ours, const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) throw std::invalid_argument(json_path + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(json_path + ": not JSON: " + e.what());
  }
  const std::vector<int> theirs[2] = {steps_from_json(j, "cached_steps", json_path),
                                      steps_from_json(j, "cfg_cached_steps", json_path)};
  double threshold = NAN;
  if (!ours.profile.empty()) threshold = parse_cache_profile(ours.profile).config.residual_diff_threshold;
  int differing = 0;
  std::string detail;
  for (int branch = 0; branch < 2; ++branch) {
    const std::vector<int> mine = ours.cached_steps(branch);
    detail += std::string(branch ? "; " : "") + (branch == 0 ? "cond" : "uncond") + ": ";
    if (mine == theirs[branch]) {
      detail += "same (" + steps_text(mine) + ")";
      continue;
    }
    detail += "glmh caches " + steps_text(mine) + ", cache-dit " + steps_text(theirs[branch]);
    for (int64_t k = 0; k < ours.steps(); ++k) {
      const bool a = std::count(mine.begin(), mine.end(), k) > 0;
      const bool b = std::count(theirs[branch].begin(), theirs[branch].end(), k) > 0;
      if (a == b) continue;
      ++differing;
      const double diff = ours.decisions.diffs[branch][k].item<double>();
      char text[128];
      if (std::isnan(diff)) std::snprintf(text, sizeof text, " [step %lld: glmh decided by a rule]", (long long)k);
      else
        std::snprintf(text, sizeof text, " [step %lld: glmh's diff %.6g vs threshold %.6g%s]", (long long)k, diff, threshold,
                      std::fabs(diff - threshold) <= 0.02 * threshold ? ", near the threshold" : "");
      detail += text;
    }
    for (int k : theirs[branch])
      if (k >= ours.steps()) {
        ++differing;
        detail += " [step " + std::to_string(k) + ": beyond glmh's " + std::to_string(ours.steps()) + " steps]";
      }
  }
  return CheckResult::pass_or_fail("cached_steps_match", differing == 0, differing, 0, detail);
}

at::Tensor tensor_of(const std::string& path, const std::string& name) {
  const auto file = SafetensorsFile::open(path);
  if (!file->contains(name)) throw std::invalid_argument(path + ": no tensor '" + name + "'");
  return file->tensor(name).to(at::kDouble).clone();
}

CheckResult outputs_match(const CacheDitRunFiles& f, const CacheDitRunTolerances& tol) {
  const bool dir = posix_fs::is_directory(f.ours);
  if (ends_with(f.theirs, ".png")) {
    if (!dir) throw std::invalid_argument(f.ours + ": an image comparison needs glmh's run directory (image.png)");
    const OutputComparison c = compare_files(f.ours + "/image.png", f.theirs);
    char text[160];
    std::snprintf(text, sizeof text, "image: PSNR %.2f dB, SSIM %.4f (gates: PSNR >= %.0f dB, SSIM >= %.2f)", c.psnr_db,
                  c.ssim, tol.min_psnr, tol.min_ssim);
    return CheckResult::pass_or_fail("output_match", c.psnr_db >= tol.min_psnr && c.ssim >= tol.min_ssim, c.psnr_db,
                                     tol.min_psnr, text);
  }
  const at::Tensor ours = tensor_of(dir ? f.ours + "/latents.safetensors" : f.ours, "latents");
  const at::Tensor theirs = tensor_of(f.theirs, f.theirs_tensor);
  if (ours.numel() != theirs.numel())
    throw std::invalid_argument(f.theirs + ": tensor '" + f.theirs_tensor + "' has " + std::to_string(theirs.numel()) +
                                " elements, glmh's latents " + std::to_string(ours.numel()));
  const double error = (ours.reshape(-1) - theirs.reshape(-1)).abs().max().item<double>() /
                       std::max(theirs.abs().max().item<double>(), 1e-30);
  char text[160];
  std::snprintf(text, sizeof text, "latents: max |glmh - cache-dit| / max |cache-dit| = %.3g (tolerance %.3g)", error,
                tol.max_relative_error);
  return CheckResult::pass_or_fail("output_match", error <= tol.max_relative_error, error, tol.max_relative_error, text);
}

}  // namespace

std::vector<CheckResult> compare_with_cache_dit_run(const CacheDitRunFiles& files, const CacheDitRunTolerances& tolerances) {
  CacheSchedule ours;
  try {
    ours = read_cache_schedule(files.ours);
  } catch (const CheckpointError& e) {
    throw std::invalid_argument(e.what());
  }
  std::vector<CheckResult> checks = {steps_match(ours, files.theirs_steps)};
  if (!files.theirs.empty()) {
    try {
      checks.push_back(outputs_match(files, tolerances));
    } catch (const CheckpointError& e) {
      throw std::invalid_argument(e.what());
    }
  }
  return checks;
}

}  // namespace glmh
