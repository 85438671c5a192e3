#include "harness/reports/scenario_outcome.h"

#include <nlohmann/json.hpp>

#include <fstream>


#include <cmath>
#include <map>
#include <stdexcept>


namespace glmh {

namespace {

CheckStatus status_of(const std::string& text, const std::string& where) {
  if (text == "pass") return CheckStatus::Pass;
  if (text == "fail") return CheckStatus::Fail;
  if (text == "na") return CheckStatus::NotApplicable;
  throw ReportDataError(where + ": status '" + text + "' is not pass, fail or na");
}

}  // namespace

namespace {

nlohmann::json scenario_json(const Scenario& s) {
  nlohmann::json j = {{"name", s.name}, {"model", s.model}, {"task", s.task}, {"image", s.image}, {"prompt", s.prompt},
                      {"height", s.height}, {"width", s.width}, {"steps", s.steps}, {"guidance", s.guidance},
                      {"seed", s.seed}, {"dtype", s.dtype}, {"device", s.device}, {"world_size", s.world_size},
                      {"tp", s.tp}, {"sp", s.sp}, {"ulysses", s.ulysses}, {"ring", s.ring}, {"cfg", s.cfg},
                      {"ar_strategy", s.ar_strategy}, {"cache", s.cache}, {"fault", s.fault}, {"expect", s.expect},
                      {"file_line", s.file_line}};
  if (s.latent_tolerance) j["latent_tolerance"] = *s.latent_tolerance;
  if (s.min_cosine) j["min_cosine"] = *s.min_cosine;
  if (s.min_psnr) j["min_psnr"] = *s.min_psnr;
  return j;
}

Scenario scenario_from(const nlohmann::json& j) {
  Scenario s;
  s.name = j.at("name");
  s.model = j.at("model");
  s.task = j.at("task");
  s.image = j.at("image");
  s.prompt = j.at("prompt");
  s.height = j.at("height");
  s.width = j.at("width");
  s.steps = j.at("steps");
  s.guidance = j.at("guidance");
  s.seed = j.at("seed");
  s.dtype = j.at("dtype");
  s.device = j.at("device");
  s.world_size = j.at("world_size");
  s.tp = j.at("tp");
  s.sp = j.at("sp");
  s.ulysses = j.at("ulysses");
  s.ring = j.at("ring");
  s.cfg = j.at("cfg");
  s.ar_strategy = j.at("ar_strategy");
  s.cache = j.at("cache");
  s.fault = j.at("fault");
  s.expect = j.at("expect");
  s.file_line = j.value("file_line", 0);
  if (j.contains("latent_tolerance")) s.latent_tolerance = j["latent_tolerance"].get<double>();
  if (j.contains("min_cosine")) s.min_cosine = j["min_cosine"].get<double>();
  if (j.contains("min_psnr")) s.min_psnr = j["min_psnr"].get<double>();
  return s;
}

// JSON has no infinity: store non-finite numbers as strings.
nlohmann::json number_json(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(std::to_string(v)); }
// What number_json wrote: a number, or the text of a non-finite one.
double number_from(const nlohmann::json& j, const std::string& where) {
  if (!j.is_string()) return j.get<double>();
  const std::string text = j.get<std::string>();
  if (text == "inf") return HUGE_VAL;
  if (text == "-inf") return -HUGE_VAL;
  if (text == "nan" || text == "-nan") return std::nan("");
  throw ReportDataError(where + ": '" + text + "' is not a number (inf, -inf, nan or a JSON number)");
}

}  // namespace

std::string fact_list(const std::set<std::string>& items) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined.empty() ? "none ran" : joined;
}

std::set<std::string> fact_list_items(const std::string& fact) {
  std::set<std::string> items;
  size_t start = 0;
  while (start <= fact.size()) {
    const size_t comma = fact.find(", ", start);
    const std::string item = fact.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty() && item != "none ran") items.insert(item);
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return items;
}

std::string report_data_json(const ReportContext& context, const std::vector<ScenarioOutcome>& outcomes) {
  nlohmann::json j;
  j["schema_version"] = 1;
  j["title"] = context.title;
  j["run_id"] = context.run_id;
  j["scenario_file"] = context.scenario_file;
  j["facts"] = context.facts;
  j["written_to"] = context.written_to;
  for (const auto& o : outcomes) {
    nlohmann::json e;
    e["scenario"] = scenario_json(o.scenario);
    e["passed"] = o.passed;
    e["reason"] = o.reason;
    e["exit_code"] = o.exit_code;
    e["seconds"] = o.seconds;
    e["run_dir"] = o.run_dir;
    e["reference_dir"] = o.reference_dir;
    e["reference_origin"] = o.reference_origin;
    for (const auto& c : o.checks)
      e["checks"].push_back({{"name", c.name}, {"status", status_name(c.status)}, {"value", number_json(c.value)},
                             {"threshold", number_json(c.threshold)}, {"detail", c.detail}});
    for (const auto& [stage, seconds] : o.stage_seconds) e["stage_seconds"].push_back({stage, seconds});
    for (const auto& [name, value] : o.performance) e["performance"].push_back({name, number_json(value)});
    j["outcomes"].push_back(e);
  }
  return j.dump(1) + "\n";
}

void read_report_data(const std::string& path, ReportContext& context, std::vector<ScenarioOutcome>& outcomes) {
  std::ifstream in(path);
  if (!in) throw ReportDataError(path + ": cannot read (is this a glmh validate or bench report directory?)");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    context.title = j.at("title");
    context.run_id = j.at("run_id");
    context.scenario_file = j.at("scenario_file");
    context.facts = j.at("facts").get<std::map<std::string, std::string>>();
    context.written_to = j.value("written_to", "");
    for (const auto& e : j.value("outcomes", nlohmann::json::array())) {
      ScenarioOutcome o;
      o.scenario = scenario_from(e.at("scenario"));
      o.passed = e.at("passed");
      o.reason = e.at("reason");
      o.exit_code = e.at("exit_code");
      o.seconds = e.at("seconds");
      o.run_dir = e.at("run_dir");
      o.reference_dir = e.value("reference_dir", "");
      o.reference_origin = e.value("reference_origin", "");
      for (const auto& c : e.value("checks", nlohmann::json::array()))
        o.checks.push_back({c.at("name"), status_of(c.at("status"), path), number_from(c.at("value"), path),
                            number_from(c.at("threshold"), path), c.at("detail")});
      for (const auto& st : e.value("stage_seconds", nlohmann::json::array()))
        o.stage_seconds.emplace_back(st.at(0).get<std::string>(), st.at(1).get<double>());
      for (const auto& p : e.value("performance", nlohmann::json::array()))
        o.performance.emplace_back(p.at(0).get<std::string>(), number_from(p.at(1), path));
      outcomes.push_back(std::move(o));
    }
  } catch (const nlohmann::json::exception& e) {
    throw ReportDataError(path + ": " + e.what());
  }
}

}  // namespace glmh
