#include "harness/timing/bench_figures.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>

#include "harness/timing/step_breakdown.h"

namespace glmh {

// The figures of one scenario's bench.json: percentiles per stage, end to end and per denoise step,
// the largest peak memory and collective time over ranks. The stage breakdown becomes the medians.
void read_bench_figures(ScenarioOutcome& o) {
  std::ifstream in(o.run_dir + "/bench.json");
  if (!in) return;
  const nlohmann::json j = nlohmann::json::parse(in);
  o.performance.emplace_back("iterations", j.value("iterations", 0));
  o.stage_seconds.clear();
  const auto& stats = j.at("statistics");
  for (const auto& stage : j.at("stages")) {
    const std::string name = stage.get<std::string>();
    if (!stats.contains(name) || stats[name].is_null()) continue;
    o.stage_seconds.emplace_back(name, stats[name]["median"].get<double>());
    o.performance.emplace_back(name + ":p50", stats[name]["median"].get<double>());
    o.performance.emplace_back(name + ":p90", stats[name]["p90"].get<double>());
  }
  for (const char* name : {"end_to_end", "denoise_step"}) {
    if (!stats.contains(name) || stats[name].is_null()) continue;
    for (const char* q : {"median", "p90", "min", "max"})
      o.performance.emplace_back(std::string(name) + ":" + (std::string(q) == "median" ? "p50" : q), stats[name][q].get<double>());
  }
  double peak = 0, collectives = 0;
  for (const auto& v : j.at("peak_memory_bytes")) peak = std::max(peak, v.get<double>());
  for (const auto& v : j.at("collective_host_seconds")) collectives = std::max(collectives, v.get<double>());
  o.performance.emplace_back("peak_memory_gib", peak / double(1ull << 30));
  o.performance.emplace_back("collective_seconds", collectives);
  if (j.contains("step_breakdown") && j["step_breakdown"].contains("ranks")) {
    const auto& profile = j["step_breakdown"];
    const int rank = profile.at("critical_rank").get<int>();
    const StepBreakdown b = StepBreakdown::from_json(profile.at("ranks").at(size_t(rank)));
    for (const auto& part : breakdown_parts()) o.performance.emplace_back(breakdown_figure(part.name), b.*part.value);
    o.performance.emplace_back(breakdown_figure("step"), b.step);
    o.performance.emplace_back(breakdown_figure("rank"), rank);
    if (o.has_figure("denoise_step:p50"))
      o.performance.emplace_back(breakdown_figure("step_over_timed"), b.step / o.figure("denoise_step:p50"));
  }
}

std::string breakdown_figure(const std::string& part) { return "breakdown:" + part; }
std::string breakdown_difference_figure(const std::string& part) { return "breakdown_vs_single:" + part; }

// Speedup and efficiency over the single-rank scenario of the same request in this run, and the
// Amdahl bound: only the denoising shrinks with more ranks.
void add_speedups(std::vector<ScenarioOutcome>& outcomes) {
  std::map<std::string, const ScenarioOutcome*> single;
  for (const auto& o : outcomes)
    if (o.scenario.world_size == 1 && o.has_figure("end_to_end:p50")) single.emplace(o.scenario.reference_key(), &o);
  for (auto& o : outcomes) {
    const auto it = single.find(o.scenario.reference_key());
    if (it == single.end() || !o.has_figure("end_to_end:p50")) continue;
    const ScenarioOutcome& base = *it->second;
    const double n = o.scenario.world_size;
    const double base_denoise = base.figure("glm_image.denoising:p50"), base_total = base.figure("end_to_end:p50");
    const double speedup_denoise = base_denoise / o.figure("glm_image.denoising:p50");
    const double speedup_total = base_total / o.figure("end_to_end:p50");
    const double parallel = base_denoise / base_total;
    o.performance.emplace_back("speedup:glm_image.denoising", speedup_denoise);
    o.performance.emplace_back("efficiency:glm_image.denoising", speedup_denoise / n);
    o.performance.emplace_back("speedup:end_to_end", speedup_total);
    o.performance.emplace_back("efficiency:end_to_end", speedup_total / n);
    o.performance.emplace_back("amdahl:end_to_end", 1.0 / ((1.0 - parallel) + parallel / n));
    if (o.scenario.world_size > 1 && o.has_figure(breakdown_figure("step")) && base.has_figure(breakdown_figure("step")))
      for (const auto& part : breakdown_parts())
        o.performance.emplace_back(breakdown_difference_figure(part.name),
                                   o.figure(breakdown_figure(part.name)) - base.figure(breakdown_figure(part.name)));
  }
}

bool is_speedup_figure(const std::string& name) {
  for (const char* made : {"speedup:glm_image.denoising", "efficiency:glm_image.denoising", "speedup:end_to_end",
                           "efficiency:end_to_end", "amdahl:end_to_end"})
    if (name == made) return true;
  return name.rfind(breakdown_difference_figure(""), 0) == 0;
}

double denoising_seconds(const ScenarioOutcome& o) {
  if (o.has_figure("glm_image.denoising:p50")) return o.figure("glm_image.denoising:p50");
  for (const auto& [stage, seconds] : o.stage_seconds)
    if (stage == "glm_image.denoising") return seconds;
  return 0;
}

}  // namespace glmh
