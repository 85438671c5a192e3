#include "harness/reports/performance_tables.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "harness/timing/bench_figures.h"
#include "harness/timing/step_breakdown.h"

namespace glmh {

namespace {

const char kTimingNote[] =
    "Timed iterations after the checked run (warm-ups excluded), device-synchronised, max over ranks. Speedup = "
    "single-rank median / this median; efficiency = speedup / world size; the Amdahl bound on the end-to-end speedup "
    "counts only the denoising as parallel (the AR stage, the glyph encoder and the VAE run whole).";

const char kCachingNote[] =
    "Hit rate = DiT calls of the loop served from the cache / calls. Ideal speedup = the denoising speedup over "
    "uncached if the transformer blocks were all of a call's time (a cached call runs Fn + Bn of them; under "
    "CFG-parallel a step costs its slower branch). Speedup over uncached = the same layout's uncached denoising time / "
    "this one (timed medians when timed, else one run each). glmh cache-diff adds PSNR / SSIM of the image against the "
    "uncached run, the single-rank run with the same profile and profile A's run, and the decisions that changed.";

const char kBreakdownNote[] =
    "One more iteration after the timed ones, a few of its denoise steps under libtorch's profiler (GPU: kernels; "
    "CPU: operators), read for the slowest rank (its Chrome trace is trace-rank<R>.json in the run directory). Each "
    "moment of the step goes to the compute running then (shared when several kinds overlap), else to exposed "
    "communication (a collective with no compute beside it), else to device idle: these six add up to the profiled "
    "step. \"collectives (all)\" counts every moment a collective ran, overlapped or not. In brackets: the difference "
    "to the single-rank run's step.";

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

std::vector<FigureTable> timing_tables(const std::vector<ScenarioOutcome>& outcomes,
                                       const std::vector<const ScenarioOutcome*>& timed);
FigureTable caching_table(const std::vector<ScenarioOutcome>& outcomes);
FigureTable step_breakdown_table(const std::vector<const ScenarioOutcome*>& timed);

}  // namespace

std::vector<FigureTable> performance_tables(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<FigureTable> tables;
  std::vector<const ScenarioOutcome*> timed;
  for (const auto& o : outcomes)
    if (o.has_figure("iterations")) timed.push_back(&o);
  if (!timed.empty()) tables = timing_tables(outcomes, timed);
  if (auto steps = step_breakdown_table(timed); !steps.rows.empty()) tables.push_back(std::move(steps));
  if (auto caching = caching_table(outcomes); !caching.rows.empty()) tables.push_back(std::move(caching));
  return tables;
}

namespace {

std::vector<FigureTable> timing_tables(const std::vector<ScenarioOutcome>& outcomes,
                                       const std::vector<const ScenarioOutcome*>& timed) {
  const std::vector<std::string> stages = timed_stages(outcomes);
  const std::vector<std::string> p50_p90 = {"p50", "p90"}, spread = {"p50", "p90", "min", "max"};

  FigureTable per_stage{"Stage latency", kTimingNote, {"scenario", "world", "iterations"}, {}};
  for (const auto& stage : stages) per_stage.headings.push_back(stage + " p50 / p90 (s)");
  FigureTable step_and_total{"Denoise step and end to end", "", {"scenario", "world"}, {}};
  for (const auto& q : spread) step_and_total.headings.push_back("denoise step " + q + " (ms)");
  for (const auto& q : spread) step_and_total.headings.push_back("end to end " + q + " (s)");
  FigureTable scaling{"Scaling over the single-rank run",
                      "",
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

// Profiled runs: each part of the slowest rank's denoise step in ms, with its difference to the
// single-rank step in brackets.
FigureTable step_breakdown_table(const std::vector<const ScenarioOutcome*>& timed) {
  FigureTable table{"Denoise step breakdown", kBreakdownNote, {"scenario", "world", "rank", "profiled step (ms)",
                                                               "profiled / timed p50"}, {}};
  for (const auto& part : breakdown_parts()) table.headings.push_back(std::string(part.heading) + " (ms)");
  for (const ScenarioOutcome* o : timed) {
    if (!o->has_figure(breakdown_figure("step"))) continue;
    std::vector<std::string> row = {o->scenario.name, std::to_string(o->scenario.world_size),
                                    cell(*o, breakdown_figure("rank"), {""}, 0),
                                    cell(*o, breakdown_figure("step"), {""}, 2, 1000.0),
                                    cell(*o, breakdown_figure("step_over_timed"), {""}, 3)};
    for (const auto& part : breakdown_parts()) {
      std::string text = cell(*o, breakdown_figure(part.name), {""}, 2, 1000.0);
      if (o->has_figure(breakdown_difference_figure(part.name))) {
        std::ostringstream difference;
        difference << std::showpos << std::fixed << std::setprecision(2)
                   << o->figure(breakdown_difference_figure(part.name)) * 1000.0;
        text += " (" + difference.str() + ")";
      }
      row.push_back(text);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// Cached runs: hit rate, the ideal and the measured denoising speedup over uncached and, from glmh
// cache-diff, image similarity and changed decisions. Columns no row has are left out.
FigureTable caching_table(const std::vector<ScenarioOutcome>& outcomes) {
  struct Column {
    const char* heading;
    std::vector<std::string> figures;
    int digits;
  };
  const std::vector<Column> columns = {
      {"hit rate", {"cache_hit_rate"}, 3},
      {"ideal speedup denoising", {"cache_ideal_speedup"}, 2},
      {"speedup over uncached", {"speedup:over_uncached"}, 2},
      {"PSNR (dB) / SSIM vs uncached", {"psnr:vs_uncached", "ssim:vs_uncached"}, 3},
      {"PSNR (dB) / SSIM vs single-rank cached", {"psnr:vs_single_rank", "ssim:vs_single_rank"}, 3},
      {"PSNR (dB) / SSIM vs profile A", {"psnr:vs_a", "ssim:vs_a"}, 3},
      {"changed decisions vs A", {"cache_changed_calls"}, 0},
  };
  FigureTable table{"Caching", kCachingNote, {"scenario", "profile"}, {}};
  std::vector<const Column*> shown;
  for (const auto& c : columns)
    if (std::any_of(outcomes.begin(), outcomes.end(), [&c](const ScenarioOutcome& o) { return o.has_figure(c.figures[0]); })) {
      shown.push_back(&c);
      table.headings.push_back(c.heading);
    }
  for (const auto& o : outcomes) {
    if (!o.has_figure("cache_hit_rate")) continue;
    std::vector<std::string> row = {o.scenario.name, o.scenario.cache};
    for (const Column* c : shown) {
      std::string text;
      for (size_t i = 0; i < c->figures.size(); ++i)
        text += (i ? " / " : "") + cell(o, c->figures[i], {""}, i == 0 && c->figures.size() > 1 ? 2 : c->digits);
      row.push_back(text);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace

}  // namespace glmh
