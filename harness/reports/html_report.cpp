#include <algorithm>
#include <iomanip>
#include <sstream>

#include "harness/reports/markup.h"
#include "harness/reports/performance_tables.h"
#include "harness/reports/report_writers.h"
#include "harness/reports/scenario_images.h"
#include "harness/timing/bench_figures.h"
#include "harness/timing/step_breakdown.h"

namespace glmh {

namespace {

const char* kStageColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"};

struct StackedBar {
  std::string label;
  std::vector<std::pair<std::string, double>> segments;  // name -> value, in the unit
};

// Horizontal stacked bars on a common axis, one colour per segment name.
std::string stacked_bars_svg(const std::string& title, const std::string& unit, const std::vector<StackedBar>& bars) {
  std::vector<std::string> names;
  double longest = 0;
  for (const auto& bar : bars) {
    double total = 0;
    for (const auto& [name, value] : bar.segments) {
      total += value;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    longest = std::max(longest, total);
  }
  const int label_w = 230, bar_w = 560, row_h = 22, top = 30;
  const int width = label_w + bar_w + 120;
  // Legend first, wrapped onto as many rows as it needs: the height depends on it.
  std::ostringstream legend;
  legend << std::fixed << std::setprecision(1);
  double ly = top + double(bars.size()) * row_h + 20;
  double lx = label_w;
  for (size_t s = 0; s < names.size(); ++s) {
    const double item_w = 30 + 7.0 * double(names[s].size());
    if (lx + item_w > width && lx > label_w) {
      lx = label_w;
      ly += 18;
    }
    legend << "<rect x=\"" << lx << "\" y=\"" << ly << "\" width=\"12\" height=\"12\" fill=\"" << kStageColors[s % 7]
           << "\"/><text x=\"" << lx + 16 << "\" y=\"" << ly + 11 << "\">" << escape_markup(names[s]) << "</text>\n";
    lx += item_w;
  }
  const int height = int(ly) + 20;
  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<text x=\"0\" y=\"16\" font-weight=\"bold\">" << escape_markup(title) << "</text>\n";
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& bar = bars[i];
    const double y = top + double(i) * row_h;
    svg << "<text x=\"" << label_w - 6 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << escape_markup(bar.label)
        << "</text>\n";
    double x = label_w, total = 0;
    for (const auto& [name, value] : bar.segments) {
      const size_t color = size_t(std::find(names.begin(), names.end(), name) - names.begin()) % 7;
      const double w = longest > 0 ? value / longest * bar_w : 0;
      svg << "<rect x=\"" << x << "\" y=\"" << y + 3 << "\" width=\"" << std::max(w, 0.5) << "\" height=\"" << row_h - 6
          << "\" fill=\"" << kStageColors[color] << "\"><title>" << escape_markup(bar.label + " " + name) << ": "
          << std::setprecision(4) << value << std::setprecision(1) << " " << unit << "</title></rect>\n";
      x += w;
      total += value;
    }
    svg << "<text x=\"" << x + 4 << "\" y=\"" << y + 15 << "\">" << std::setprecision(3) << total << std::setprecision(1)
        << " " << unit << "</text>\n";
  }
  svg << legend.str() << "</svg>\n";
  return svg.str();
}

// One bar per scenario, one segment per stage.
std::string stage_breakdown_svg(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<StackedBar> bars;
  bool any = false;
  for (const auto& o : outcomes) {
    bars.push_back({o.scenario.name, o.stage_seconds});
    any = any || !o.stage_seconds.empty();
  }
  if (!any) return "<p>No stage times (no scenario ran its stages).</p>";
  return stacked_bars_svg("Stage breakdown per scenario (seconds, max over ranks)", "s", bars);
}

// One bar per profiled scenario, one segment per additive part of its denoise step.
std::string step_breakdown_svg(const std::vector<ScenarioOutcome>& outcomes) {
  std::vector<StackedBar> bars;
  for (const auto& o : outcomes) {
    if (!o.has_figure(breakdown_figure("step"))) continue;
    StackedBar bar{o.scenario.name, {}};
    for (const auto& part : breakdown_parts())
      if (part.value != &StepBreakdown::collectives)
        bar.segments.emplace_back(part.heading, o.figure(breakdown_figure(part.name)) * 1e3);
    bars.push_back(bar);
  }
  if (bars.empty()) return "";
  return stacked_bars_svg("Denoise step breakdown per layout (ms per step, profiled, slowest rank)", "ms", bars);
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

// The page's style and its one script. A click on a thumbnail shows the image in an overlay at its
// own size (a small image scaled up by a whole factor, pixels kept sharp); a click anywhere, or
// Esc, closes it. The images are data URIs inside <img>, never link targets: browsers refuse to
// navigate to data: URLs.
const char kStyle[] =
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}"
    "h1{margin:0 0 4px;font-size:24px}h2{margin:28px 0 8px;font-size:19px}h3{font-size:15px;margin:14px 0 4px}"
    ".sub{color:#666;margin:0 0 14px}.note{color:#555;font-size:13px;max-width:1000px}"
    ".verdict{display:inline-block;font-size:20px;font-weight:bold;padding:6px 16px;border-radius:6px;"
    "margin-right:12px}.verdict.pass{background:#1a7f37;color:#fff}.verdict.fail{background:#c62828;color:#fff}"
    "table{border-collapse:collapse;margin:8px 0 20px;background:#fff}"
    "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;white-space:nowrap}"
    "th{background:#f0f0f0;white-space:normal;vertical-align:bottom}td.text{white-space:normal;min-width:240px}"
    ".figures td{text-align:right;font-variant-numeric:tabular-nums}.figures td:first-child{text-align:left}"
    ".pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.na{color:#888}"
    ".gallery{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}"
    ".card{background:#fff;border:1px solid #ddd;border-left:5px solid #1a7f37;border-radius:6px;padding:8px 12px 10px}"
    ".card.failed{border-left-color:#c62828}.card-head{margin-bottom:8px;font-size:14px}"
    ".card-head .dim,.parity{color:#666;font-size:12px}.parity{margin-top:6px;max-width:520px}"
    ".figs{display:flex;gap:10px}figure{margin:0;width:160px}"
    "figcaption{font-size:12px;color:#444;margin-top:3px}figcaption .dim{color:#888}"
    ".thumb{width:160px;display:block;cursor:zoom-in;border:1px solid #ccc}.sharp{image-rendering:pixelated}"
    ".noimg{width:158px;display:flex;align-items:center;justify-content:center;text-align:center;background:#eee;"
    "color:#888;border:1px dashed #bbb;font-size:12px;word-break:break-word}"
    "#zoom{position:fixed;inset:0;background:rgba(0,0,0,.88);display:flex;overflow:auto;cursor:zoom-out;z-index:9}"
    "#zoom[hidden]{display:none}#zoom figure{margin:auto;width:auto;padding:16px}"
    "#zoom img{display:block;image-rendering:pixelated}#zoom figcaption{color:#eee;font-size:14px;margin-top:8px}";

const char kScript[] =
    "function zoom(t){var z=document.getElementById('zoom'),i=z.querySelector('img'),w=t.naturalWidth,"
    "h=t.naturalHeight,k=Math.max(1,Math.floor(Math.min(innerWidth*0.9/w,innerHeight*0.85/h)));"
    "i.src=t.src;i.style.width=w*k+'px';z.querySelector('figcaption').textContent=t.alt+' \\u2014 '+w+'\\u00d7'+h+"
    "' px'+(k>1?', shown \\u00d7'+k:'');z.hidden=false}"
    "document.addEventListener('keydown',function(e){if(e.key==='Escape')document.getElementById('zoom').hidden=true});";

std::string figure_html(const EmbeddedImage& image, const std::string& caption, const std::string& detail,
                        const std::string& alt, int placeholder_height) {
  std::ostringstream h;
  h << "<figure>";
  if (image.data_uri.empty()) {
    h << "<div class=\"noimg\" style=\"height:" << placeholder_height << "px\">" << escape_markup(image.missing) << "</div>";
  } else {
    // Images narrower than the thumbnail are scaled up: keep their pixels square.
    h << "<img class=\"thumb" << (image.width < 160 ? " sharp" : "") << "\" src=\"" << image.data_uri << "\" alt=\""
      << escape_markup(alt) << "\" title=\"click to enlarge\" onclick=\"zoom(this)\">";
  }
  h << "<figcaption>" << escape_markup(caption);
  if (!image.data_uri.empty())
    h << " <span class=\"dim\" title=\"width × height\">" << image.width << "×" << image.height << " px</span>";
  if (!detail.empty()) h << "<br><span class=\"dim\">" << escape_markup(detail) << "</span>";
  h << "</figcaption></figure>";
  return h.str();
}

std::string gain_text(double gain) {
  std::ostringstream text;
  text << std::setprecision(3) << gain;
  return text.str();
}

// One card per scenario: verdict, its image beside the single-rank image, and the amplified
// difference where image parity failed.
std::string image_card(const ScenarioOutcome& o, const ScenarioImages& images) {
  const Scenario& s = o.scenario;
  const int placeholder_height = s.width > 0 && s.height > 0 ? std::clamp(160 * s.height / s.width, 40, 320) : 100;
  std::ostringstream h;
  h << "<div class=\"card" << (o.passed ? "" : " failed") << "\"><div class=\"card-head\"><span class=\""
    << (o.passed ? "pass\">pass" : "fail\">FAIL") << "</span> <b>" << escape_markup(s.name) << "</b> <span class=\"dim\">"
    << escape_markup(s.layout_text()) << (s.fault.empty() || s.fault == "none" ? "" : ", fault " + escape_markup(s.fault))
    << "</span></div>\n<div class=\"figs\">"
    << figure_html(images.run, "this run", "", s.name + ": this run", placeholder_height)
    << figure_html(images.reference, "single-rank run", "", s.name + ": the single-rank run", placeholder_height);
  if (images.image_parity_failed)
    h << figure_html(images.difference,
                     images.difference.data_uri.empty() ? "difference" : "difference ×" + gain_text(images.gain),
                     images.difference.data_uri.empty()
                         ? ""
                         : "largest |a−b| " + std::to_string(images.largest_difference) + " of 255, shown as white",
                     s.name + ": |this run − single-rank| amplified ×" + gain_text(images.gain), placeholder_height);
  h << "</div>\n";
  for (const auto& c : o.checks)
    if (c.name == "image_parity")
      h << "<div class=\"parity\">image_parity: <span class=\"" << status_name(c.status) << "\">" << status_name(c.status)
        << "</span> — " << escape_markup(c.detail) << "</div>";
  h << "</div>\n";
  return h.str();
}

std::string figure_tables_html(const std::vector<FigureTable>& tables) {
  std::ostringstream h;
  for (const auto& table : tables) {
    h << "<h3>" << escape_markup(table.title) << "</h3>\n";
    if (!table.note.empty()) h << "<p class=\"note\">" << escape_markup(table.note) << "</p>\n";
    h << "<table class=\"figures\"><tr>";
    for (const auto& heading : table.headings) h << "<th>" << escape_markup(heading) << "</th>";
    h << "</tr>\n";
    for (const auto& row : table.rows) {
      h << "<tr>";
      for (const auto& c : row) h << "<td>" << escape_markup(c) << "</td>";
      h << "</tr>\n";
    }
    h << "</table>\n";
  }
  return h.str();
}

}  // namespace

std::string report_html(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes,
                        const std::string& report_dir) {
  const auto reasons = invalid_reasons(outcomes);
  int as_expected = 0;
  for (const auto& o : outcomes) as_expected += o.passed ? 1 : 0;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << escape_markup(context.title) << "</title>\n"
    << "<style>" << kStyle << "</style></head><body>\n";
  h << "<h1>" << escape_markup(context.title) << "</h1>\n<p class=\"sub\">run " << escape_markup(context.run_id) << "</p>\n";
  h << "<div><span class=\"verdict " << (reasons.empty() ? "pass\">Result is : VALID" : "fail\">Result is : INVALID")
    << "</span>" << as_expected << " of " << outcomes.size() << " scenario(s) as expected</div>\n";
  if (!reasons.empty()) {
    h << "<ul>";
    for (const auto& r : reasons) h << "<li>" << escape_markup(r) << "</li>";
    h << "</ul>\n";
  }
  std::vector<ScenarioImages> images;
  bool any_image = false;
  for (const auto& o : outcomes) {
    images.push_back(scenario_images(o, context.written_to, report_dir));
    any_image = any_image || !images.back().run.data_uri.empty() || !images.back().reference.data_uri.empty();
  }
  h << "<h2>Images</h2>\n";
  if (any_image) {
    h << "<p class=\"note\">Each scenario's image beside the image of the single-rank run it was compared with; "
         "where image parity failed, also their difference (per pixel the largest |a−b| over the channels, "
         "amplified so that the largest becomes white). Click an image to enlarge it; click again or press Esc to "
         "close.</p>\n<div class=\"gallery\">\n";
    for (size_t i = 0; i < outcomes.size(); ++i) h << image_card(outcomes[i], images[i]);
    h << "</div>\n";
  } else {
    // A report copied without its run directories (reports/gpu/): one line, not a wall of placeholders.
    h << "<p class=\"note\">No images: none of the scenarios' run directories holds an image.png here.</p>\n";
  }
  h << "<h2>Stage breakdown</h2>\n" << stage_breakdown_svg(outcomes);
  if (const std::string steps = step_breakdown_svg(outcomes); !steps.empty())
    h << "<h2>Denoise step breakdown</h2>\n" << steps;
  const std::string speedups = speedup_svg(outcomes);
  if (!speedups.empty()) h << "<h2>Speedups</h2>\n" << speedups;
  const auto tables = performance_tables(outcomes);
  if (!tables.empty())
    h << "<h2>Performance</h2>\n" << figure_tables_html(tables);
  h << "<h2>Scenarios</h2>\n<table><tr><th>scenario</th><th>layout</th><th>AR</th><th>fault</th>"
       "<th>expect</th><th>verdict</th><th>why</th><th>seconds</th><th>single-rank reference</th></tr>\n";
  for (const auto& o : outcomes) {
    const Scenario& s = o.scenario;
    h << "<tr><td>" << escape_markup(s.name) << "</td><td>" << escape_markup(s.layout_text()) << "</td><td>"
      << escape_markup(s.ar_strategy) << "</td><td>" << escape_markup(s.fault) << "</td><td>" << s.expect
      << "</td><td class=\"" << (o.passed ? "pass\">pass" : "fail\">FAIL") << "</td><td class=\"text\">" << escape_markup(o.reason)
      << "</td><td>" << std::fixed << std::setprecision(1) << o.seconds << "</td><td class=\"text\">"
      << escape_markup(o.reference_origin.empty() ? "none" : o.reference_origin) << "</td></tr>\n";
  }
  // Every check, failures first (as in summary.md).
  h << "</table>\n<h2>Checks</h2>\n<table><tr><th>scenario</th><th>check</th><th>status</th><th>value</th>"
       "<th>threshold</th><th>detail</th></tr>\n";
  for (const bool failures : {true, false})
    for (const auto& o : outcomes)
      for (const auto& c : o.checks)
        if (c.failed() == failures)
          h << "<tr><td>" << escape_markup(o.scenario.name) << "</td><td>" << escape_markup(c.name) << "</td><td class=\""
            << status_name(c.status) << "\">" << status_name(c.status) << "</td><td>" << std::defaultfloat
            << std::setprecision(3) << c.value << "</td><td>" << c.threshold << "</td><td class=\"text\">" << escape_markup(c.detail)
            << "</td></tr>\n";
  h << "</table>\n<h2>Environment</h2>\n<table>";
  for (const auto& [key, value] : context.facts)
    h << "<tr><th>" << escape_markup(key) << "</th><td class=\"text\">" << escape_markup(value) << "</td></tr>";
  h << "</table>\n<div id=\"zoom\" hidden onclick=\"this.hidden=true\"><figure><img alt=\"\"><figcaption></figcaption>"
       "</figure></div>\n<script>" << kScript << "</script>\n</body></html>\n";
  return h.str();
}

}  // namespace glmh
