#include <algorithm>
#include <iomanip>
#include <set>
#include <sstream>

#include "harness/io/report_files.h"
#include "harness/reports/report_writers.h"

namespace glmh {

std::vector<std::string> invalid_reasons(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<std::string> reasons;
  for (const auto& o : outcomes)
    if (!o.passed) reasons.push_back(o.scenario.name + ": " + o.reason);
  return reasons;
}

std::string summary_markdown(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes) {
  std::ostringstream md;
  md << "# " << context.title << " — run " << context.run_id << "\n\n| | |\n|---|---|\n";
  for (const auto& [key, value] : context.facts) md << "| " << key << " | " << md_cell(value) << " |\n";
  int passed = 0;
  for (const auto& o : outcomes) passed += o.passed ? 1 : 0;
  md << "\n## Scenarios (" << passed << " of " << outcomes.size() << " as expected)\n\n"
     << "| scenario | layout | AR | fault | expect | verdict | why | seconds |\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& o : outcomes) {
    const Scenario& s = o.scenario;
    md << "| " << s.name << " | " << s.layout_text() << " | " << s.ar_strategy << " | " << s.fault << " | " << s.expect
       << " | " << (o.passed ? "pass" : "**FAIL**") << " | " << md_cell(o.reason) << " | " << std::fixed
       << std::setprecision(1) << o.seconds << " |\n";
  }
  // Every check of every scenario, failures first.
  md << "\n## Checks\n\n| scenario | check | status | value | threshold | detail |\n|---|---|---|---|---|---|\n";
  for (const bool failures : {true, false})
    for (const auto& o : outcomes)
      for (const auto& c : o.checks)
        if (c.failed() == failures)
          md << "| " << o.scenario.name << " | " << c.name << " | " << (c.failed() ? "**fail**" : status_name(c.status))
             << " | " << std::setprecision(3) << std::defaultfloat << c.value << " | " << c.threshold << " | "
             << md_cell(c.detail) << " |\n";
  // Stage latencies of one run each (glmh bench repeats and gives percentiles).
  std::vector<std::string> stages;
  for (const auto& o : outcomes)
    for (const auto& [stage, seconds] : o.stage_seconds)
      if (std::find(stages.begin(), stages.end(), stage) == stages.end()) stages.push_back(stage);
  md << "\n## Stage latencies\n\nWall clock of one run per scenario, device-synchronised, max over ranks; "
        "`glmh bench` repeats runs for percentiles.\n\n| scenario |";
  for (const auto& st : stages) md << " " << st << " (s) |";
  md << "\n|---|";
  for (size_t i = 0; i < stages.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& o : outcomes) {
    md << "| " << o.scenario.name << " |";
    for (const auto& st : stages) {
      std::string cell = " – |";
      for (const auto& [stage, seconds] : o.stage_seconds)
        if (stage == st) {
          std::ostringstream v;
          v << " " << std::fixed << std::setprecision(4) << seconds << " |";
          cell = v.str();
        }
      md << cell;
    }
    md << "\n";
  }
  // Timed iterations (glmh bench): percentiles, speedups over the single-rank run, Amdahl bound.
  bool timed = false;
  for (const auto& o : outcomes) timed = timed || !o.performance.empty();
  if (timed) {
    md << "\n## Performance\n\nTimed iterations after the checked run (warm-ups excluded), device-synchronised, "
          "max over ranks. Speedup = single-rank median / this median; efficiency = speedup / world size; the Amdahl "
          "bound on the end-to-end speedup counts only the denoising as parallel (the AR stage, the glyph encoder and "
          "the VAE run whole).\n\n"
          "| scenario | world | iterations | denoise step p50 (ms) | denoising p50 / p90 (s) | end to end p50 / p90 (s) | "
          "speedup denoising | efficiency | speedup end to end | Amdahl bound | peak memory (GiB, max rank) | collectives (s, max rank) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    auto cell = [](const ScenarioOutcome& o, const std::string& name, int digits, double scale = 1.0) {
      if (!o.has_figure(name)) return std::string("–");
      std::ostringstream v;
      v << std::fixed << std::setprecision(digits) << o.figure(name) * scale;
      return v.str();
    };
    for (const auto& o : outcomes) {
      if (o.performance.empty()) continue;
      md << "| " << o.scenario.name << " | " << o.scenario.world_size << " | " << cell(o, "iterations", 0) << " | "
         << cell(o, "denoise_step:p50", 2, 1000.0) << " | " << cell(o, "glm_image.denoising:p50", 4) << " / "
         << cell(o, "glm_image.denoising:p90", 4) << " | " << cell(o, "end_to_end:p50", 4) << " / "
         << cell(o, "end_to_end:p90", 4) << " | " << cell(o, "speedup:glm_image.denoising", 2) << " | "
         << cell(o, "efficiency:glm_image.denoising", 2) << " | " << cell(o, "speedup:end_to_end", 2) << " | "
         << cell(o, "amdahl:end_to_end", 2) << " | " << cell(o, "peak_memory_gib", 2) << " | "
         << cell(o, "collective_seconds", 3) << " |\n";
    }
  }
  const auto reasons = invalid_reasons(outcomes);
  md << "\nResult is : " << (reasons.empty() ? "VALID" : "INVALID") << "\n";
  for (const auto& r : reasons) md << "- " << md_cell(r) << "\n";
  return md.str();
}

}  // namespace glmh
