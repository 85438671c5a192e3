#include <algorithm>
#include <iomanip>
#include <sstream>

#include "harness/reports/markup.h"
#include "harness/reports/report_writers.h"

namespace glmh {

namespace {


const char* kStageColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"};

// Horizontal stacked bars: one per scenario, one segment per stage, on a common seconds axis.
std::string stage_breakdown_svg(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<std::string> stages;
  double longest = 0;
  for (const auto& o : outcomes) {
    double total = 0;
    for (const auto& [stage, seconds] : o.stage_seconds) {
      total += seconds;
      if (std::find(stages.begin(), stages.end(), stage) == stages.end()) stages.push_back(stage);
    }
    longest = std::max(longest, total);
  }
  if (longest <= 0) return "<p>No stage times (no scenario ran its stages).</p>";
  const int label_w = 230, bar_w = 560, row_h = 22, top = 30;
  const int width = label_w + bar_w + 120;
  const int height = top + int(outcomes.size()) * row_h + 40 + 18 * int(stages.size());
  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<text x=\"0\" y=\"16\" font-weight=\"bold\">Stage breakdown per scenario (seconds, max over ranks)</text>\n";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    const double y = top + double(i) * row_h;
    svg << "<text x=\"" << label_w - 6 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << escape_markup(o.scenario.name)
        << "</text>\n";
    double x = label_w, total = 0;
    for (const auto& [stage, seconds] : o.stage_seconds) {
      const size_t color = size_t(std::find(stages.begin(), stages.end(), stage) - stages.begin()) % 7;
      const double w = seconds / longest * bar_w;
      svg << "<rect x=\"" << x << "\" y=\"" << y + 3 << "\" width=\"" << std::max(w, 0.5) << "\" height=\"" << row_h - 6
          << "\" fill=\"" << kStageColors[color] << "\"><title>" << escape_markup(o.scenario.name + " " + stage) << ": "
          << std::setprecision(4) << seconds << std::setprecision(1) << " s</title></rect>\n";
      x += w;
      total += seconds;
    }
    svg << "<text x=\"" << x + 4 << "\" y=\"" << y + 15 << "\">" << std::setprecision(3) << total << std::setprecision(1)
        << " s</text>\n";
  }
  // Legend, wrapped onto as many rows as it needs.
  double ly = top + double(outcomes.size()) * row_h + 20;
  double lx = label_w;
  for (size_t s = 0; s < stages.size(); ++s) {
    const double item_w = 30 + 7.0 * double(stages[s].size());
    if (lx + item_w > width && lx > label_w) {
      lx = label_w;
      ly += 18;
    }
    svg << "<rect x=\"" << lx << "\" y=\"" << ly << "\" width=\"12\" height=\"12\" fill=\"" << kStageColors[s % 7]
        << "\"/><text x=\"" << lx + 16 << "\" y=\"" << ly + 11 << "\">" << escape_markup(stages[s]) << "</text>\n";
    lx += item_w;
  }
  svg << "</svg>\n";
  return svg.str();
}

// Speedup over the single-rank run per scenario: denoising and end to end as bars, the ideal
// (world size) and the Amdahl bound as ticks.
std::string speedup_svg(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<const ScenarioOutcome*> rows;
  double top_value = 1;
  for (const auto& o : outcomes)
    if (o.has_figure("speedup:end_to_end")) {
      rows.push_back(&o);
      top_value = std::max({top_value, double(o.scenario.world_size), o.figure("speedup:glm_image.denoising"),
                            o.figure("speedup:end_to_end")});
    }
  if (rows.empty()) return "";
  const int label_w = 230, bar_w = 520, row_h = 34, top = 30;
  const int width = label_w + bar_w + 140, height = top + int(rows.size()) * row_h + 70;
  auto x_of = [&](double v) { return label_w + v / top_value * bar_w; };
  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<text x=\"0\" y=\"16\" font-weight=\"bold\">Speedup over the single-rank run (medians) against the ideal</text>\n";
  for (int v = 0; v <= int(top_value); ++v)
    svg << "<line x1=\"" << x_of(v) << "\" y1=\"" << top << "\" x2=\"" << x_of(v) << "\" y2=\""
        << top + int(rows.size()) * row_h << "\" stroke=\"#ddd\"/><text x=\"" << x_of(v) << "\" y=\""
        << top + int(rows.size()) * row_h + 14 << "\" text-anchor=\"middle\">" << v << "x</text>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const ScenarioOutcome& o = *rows[i];
    const double y = top + double(i) * row_h;
    const double denoise = o.figure("speedup:glm_image.denoising"), e2e = o.figure("speedup:end_to_end");
    svg << "<text x=\"" << label_w - 6 << "\" y=\"" << y + 20 << "\" text-anchor=\"end\">"
        << escape_markup(o.scenario.name) << "</text>\n"
        << "<rect x=\"" << label_w << "\" y=\"" << y + 4 << "\" width=\"" << x_of(denoise) - label_w
        << "\" height=\"12\" fill=\"#59a14f\"><title>denoising " << std::setprecision(2) << denoise
        << "x</title></rect>\n<rect x=\"" << label_w << "\" y=\"" << y + 17 << "\" width=\"" << x_of(e2e) - label_w
        << "\" height=\"12\" fill=\"#4e79a7\"><title>end to end " << e2e << "x</title></rect>\n"
        << std::setprecision(1);
    const double ideal = o.scenario.world_size, amdahl = o.figure("amdahl:end_to_end", 0);
    svg << "<line x1=\"" << x_of(ideal) << "\" y1=\"" << y + 2 << "\" x2=\"" << x_of(ideal) << "\" y2=\"" << y + 31
        << "\" stroke=\"#333\" stroke-width=\"2\" stroke-dasharray=\"3,2\"><title>ideal " << ideal << "x</title></line>\n";
    if (amdahl > 0)
      svg << "<line x1=\"" << x_of(amdahl) << "\" y1=\"" << y + 15 << "\" x2=\"" << x_of(amdahl) << "\" y2=\"" << y + 31
          << "\" stroke=\"#e15759\" stroke-width=\"3\"><title>Amdahl bound " << std::setprecision(2) << amdahl
          << "x</title></line>\n" << std::setprecision(1);
    svg << "<text x=\"" << x_of(std::max({denoise, e2e, ideal})) + 6 << "\" y=\"" << y + 20 << "\">" << std::setprecision(2)
        << denoise << "x / " << e2e << "x</text>\n" << std::setprecision(1);
  }
  const double ly = top + double(rows.size()) * row_h + 30;
  svg << "<rect x=\"" << label_w << "\" y=\"" << ly << "\" width=\"12\" height=\"12\" fill=\"#59a14f\"/><text x=\""
      << label_w + 16 << "\" y=\"" << ly + 11 << "\">denoising</text>"
      << "<rect x=\"" << label_w + 100 << "\" y=\"" << ly << "\" width=\"12\" height=\"12\" fill=\"#4e79a7\"/><text x=\""
      << label_w + 116 << "\" y=\"" << ly + 11 << "\">end to end</text>"
      << "<line x1=\"" << label_w + 210 << "\" y1=\"" << ly << "\" x2=\"" << label_w + 210 << "\" y2=\"" << ly + 12
      << "\" stroke=\"#333\" stroke-width=\"2\" stroke-dasharray=\"3,2\"/><text x=\"" << label_w + 216 << "\" y=\"" << ly + 11
      << "\">ideal (world size)</text>"
      << "<line x1=\"" << label_w + 350 << "\" y1=\"" << ly << "\" x2=\"" << label_w + 350 << "\" y2=\"" << ly + 12
      << "\" stroke=\"#e15759\" stroke-width=\"3\"/><text x=\"" << label_w + 356 << "\" y=\"" << ly + 11
      << "\">Amdahl bound (end to end)</text>\n</svg>\n";
  return svg.str();
}

}  // namespace

std::string report_html(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes) {
  const auto reasons = invalid_reasons(outcomes);
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << escape_markup(context.title) << "</title>\n"
    << "<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}"
       "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}"
       ".pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.na{color:#888}"
       ".verdict{font-size:20px;margin:12px 0}</style></head><body>\n";
  h << "<h1>" << escape_markup(context.title) << "</h1>\n<p>run " << escape_markup(context.run_id) << "</p>\n";
  h << "<div class=\"verdict\">Result is : <span class=\"" << (reasons.empty() ? "pass\">VALID" : "fail\">INVALID")
    << "</span></div>\n";
  if (!reasons.empty()) {
    h << "<ul>";
    for (const auto& r : reasons) h << "<li>" << escape_markup(r) << "</li>";
    h << "</ul>\n";
  }
  h << "<table>";
  for (const auto& [key, value] : context.facts)
    h << "<tr><th>" << escape_markup(key) << "</th><td>" << escape_markup(value) << "</td></tr>";
  h << "</table>\n<h2>Scenarios</h2>\n<table><tr><th>scenario</th><th>layout</th><th>AR</th><th>fault</th>"
       "<th>expect</th><th>verdict</th><th>why</th><th>seconds</th></tr>\n";
  for (const auto& o : outcomes) {
    const Scenario& s = o.scenario;
    h << "<tr><td>" << escape_markup(s.name) << "</td><td>" << escape_markup(s.layout_text()) << "</td><td>"
      << escape_markup(s.ar_strategy) << "</td><td>" << escape_markup(s.fault) << "</td><td>" << s.expect
      << "</td><td class=\"" << (o.passed ? "pass\">pass" : "fail\">FAIL") << "</td><td>" << escape_markup(o.reason)
      << "</td><td>" << std::fixed << std::setprecision(1) << o.seconds << "</td></tr>\n";
  }
  h << "</table>\n<h2>Stage breakdown</h2>\n" << stage_breakdown_svg(outcomes);
  const std::string speedups = speedup_svg(outcomes);
  if (!speedups.empty()) h << "<h2>Speedups</h2>\n" << speedups;
  h << "<h2>Checks</h2>\n<table><tr><th>scenario</th><th>check</th><th>status</th><th>value</th><th>threshold</th>"
       "<th>detail</th></tr>\n";
  for (const auto& o : outcomes)
    for (const auto& c : o.checks)
      h << "<tr><td>" << escape_markup(o.scenario.name) << "</td><td>" << escape_markup(c.name) << "</td><td class=\""
        << status_name(c.status) << "\">" << status_name(c.status) << "</td><td>" << std::defaultfloat
        << std::setprecision(3) << c.value << "</td><td>" << c.threshold << "</td><td>" << escape_markup(c.detail)
        << "</td></tr>\n";
  h << "</table>\n</body></html>\n";
  return h.str();
}

}  // namespace glmh
