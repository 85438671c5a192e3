#include "harness/reports/performance_tables.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace glmh {

const char kPerformanceNote[] =
    "Timed iterations after the checked run (warm-ups excluded), device-synchronised, max over ranks. Speedup = "
    "single-rank median / this median; efficiency = speedup / world size; the Amdahl bound on the end-to-end speedup "
    "counts only the denoising as parallel (the AR stage, the glyph encoder and the VAE run whole).";

namespace {

// The figures `base:suffix` for each suffix, scaled and joined by " / "; "–" for a missing one.
std::string cell(const ScenarioOutcome& o, const std::string& base, const std::vector<std::string>& suffixes, int digits,
                 double scale = 1.0) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(digits);
  for (size_t i = 0; i < suffixes.size(); ++i) {
    const std::string name = suffixes[i].empty() ? base : base + ":" + suffixes[i];
    if (i > 0) text << " / ";
    if (o.has_figure(name)) text << o.figure(name) * scale;
    else text << "–";
  }
  return text.str();
}

// Stages with percentiles, in the order the figures name them: "glm_image.denoising:p50" -> the
// stage; end to end and the denoise step have their own columns.
std::vector<std::string> timed_stages(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<std::string> stages;
  const std::string p50 = ":p50";
  for (const auto& o : outcomes)
    for (const auto& figure : o.performance) {
      const std::string& name = figure.first;
      if (name.size() <= p50.size() || name.compare(name.size() - p50.size(), p50.size(), p50) != 0) continue;
      const std::string stage = name.substr(0, name.size() - p50.size());
      if (stage != "end_to_end" && stage != "denoise_step" && std::find(stages.begin(), stages.end(), stage) == stages.end())
        stages.push_back(stage);
    }
  return stages;
}

}  // namespace

std::vector<FigureTable> performance_tables(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<const ScenarioOutcome*> timed;
  for (const auto& o : outcomes)
    if (!o.performance.empty()) timed.push_back(&o);
  if (timed.empty()) return {};
  const std::vector<std::string> stages = timed_stages(outcomes);
  const std::vector<std::string> p50_p90 = {"p50", "p90"}, spread = {"p50", "p90", "min", "max"};

  FigureTable per_stage{"Stage latency", {"scenario", "world", "iterations"}, {}};
  for (const auto& stage : stages) per_stage.headings.push_back(stage + " p50 / p90 (s)");
  FigureTable step_and_total{"Denoise step and end to end", {"scenario", "world"}, {}};
  for (const auto& q : spread) step_and_total.headings.push_back("denoise step " + q + " (ms)");
  for (const auto& q : spread) step_and_total.headings.push_back("end to end " + q + " (s)");
  FigureTable scaling{"Scaling over the single-rank run",
                      {"scenario", "world", "speedup denoising", "efficiency denoising", "speedup end to end",
                       "efficiency end to end", "Amdahl bound", "peak memory (GiB, max rank)", "collectives (s, max rank)"},
                      {}};
  for (const ScenarioOutcome* o : timed) {
    const std::string world = std::to_string(o->scenario.world_size);
    std::vector<std::string> stage_row = {o->scenario.name, world, cell(*o, "iterations", {""}, 0)};
    for (const auto& stage : stages) stage_row.push_back(cell(*o, stage, p50_p90, 4));
    per_stage.rows.push_back(std::move(stage_row));
    std::vector<std::string> total_row = {o->scenario.name, world};
    for (const auto& q : spread) total_row.push_back(cell(*o, "denoise_step", {q}, 2, 1000.0));
    for (const auto& q : spread) total_row.push_back(cell(*o, "end_to_end", {q}, 4));
    step_and_total.rows.push_back(std::move(total_row));
    scaling.rows.push_back({o->scenario.name, world, cell(*o, "speedup:glm_image.denoising", {""}, 2),
                            cell(*o, "efficiency:glm_image.denoising", {""}, 2), cell(*o, "speedup:end_to_end", {""}, 2),
                            cell(*o, "efficiency:end_to_end", {""}, 2), cell(*o, "amdahl:end_to_end", {""}, 2),
                            cell(*o, "peak_memory_gib", {""}, 2), cell(*o, "collective_seconds", {""}, 3)});
  }
  return {per_stage, step_and_total, scaling};
}

}  // namespace glmh
