#include "harness/scenarios/scenario_file.h"

#include "harness/io/csv_reader.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "harness/checks/check_names.h"
#include "pipeline/cache/cache_dit_releases.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"
#include "pipeline/model/model_source.h"
#include "pipeline/runtime/parallel_layout.h"

namespace glmh {

namespace {

constexpr int kColumns = 25;

// The header's column names in file order (1-based positions for messages).
std::map<std::string, int> header_positions(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::map<std::string, int> positions;
    std::stringstream s(line);
    std::string name;
    for (int column = 1; std::getline(s, name, ','); ++column) {
      while (!name.empty() && (name.back() == ' ' || name.back() == '\r' || name.back() == '\t')) name.pop_back();
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.erase(0, 1);
      positions.emplace(name, column);
    }
    return positions;
  }
  return {};
}

class RowParser {
 public:
  RowParser(std::string path, int line, const std::map<std::string, int>& columns)
      : path_(std::move(path)), line_(line), columns_(columns) {}

  [[noreturn]] void fail(const std::string& column, const std::string& message) const {
    const auto it = columns_.find(column);
    throw ScenarioFileError(path_ + ":" + std::to_string(line_) + ":" +
                                      std::to_string(it == columns_.end() ? 1 : it->second) + ": " + column + ": " + message);
  }
  int integer(const std::string& column, const std::string& text, int fallback, int min_value) const {
    if (text.empty()) return fallback;
    try {
      size_t used = 0;
      const long long v = std::stoll(text, &used);
      if (used == text.size() && v >= min_value && v <= 1000000) return int(v);
    } catch (const std::exception&) {
    }
    fail(column, "expected an integer >= " + std::to_string(min_value) + ", got '" + text + "'");
  }
  long long big_integer(const std::string& column, const std::string& text, long long fallback) const {
    if (text.empty()) return fallback;
    try {
      size_t used = 0;
      const long long v = std::stoll(text, &used);
      if (used == text.size() && v >= 0) return v;
    } catch (const std::exception&) {
    }
    fail(column, "expected a non-negative integer, got '" + text + "'");
  }
  std::optional<double> real(const std::string& column, const std::string& text, double min_value) const {
    if (text.empty()) return std::nullopt;
    try {
      size_t used = 0;
      const double v = std::stod(text, &used);
      if (used == text.size() && std::isfinite(v) && v >= min_value) return v;
    } catch (const std::exception&) {
    }
    fail(column, "expected a number >= " + std::to_string(min_value) + ", got '" + text + "'");
  }
  std::string one_of(const std::string& column, const std::string& text, const std::string& fallback,
                     const std::vector<std::string>& allowed) const {
    if (text.empty()) return fallback;
    for (const auto& a : allowed)
      if (text == a) return text;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(column, "expected one of " + list + ", got '" + text + "'");
  }

 private:
  std::string path_;
  int line_;
  const std::map<std::string, int>& columns_;
};

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

std::vector<std::string> names_of(const std::string& comma_list) {
  std::vector<std::string> out;
  std::stringstream s(comma_list);
  std::string item;
  while (std::getline(s, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    out.push_back(item);
  }
  return out;
}

// Constraints that need the model: heads for the layout, and whether a fault can fire.
void check_against_model(const Scenario& sc, const RowParser& row) {
  std::optional<int> heads;
  bool greedy = false;
  try {
    const ModelSource source = ModelSource::open(sc.model);
    heads = source.component("transformer").config().at("num_attention_heads").get<int>();
    const auto g = source.generation_config();
    greedy = !g.value("do_sample", true);
  } catch (const std::exception& e) {
    row.fail("model", std::string("cannot open the model: ") + e.what());
  }
  ParallelDegrees d;
  d.world_size = sc.world_size;
  d.tp = sc.tp;
  d.sp = sc.sp;
  d.ulysses = sc.ulysses;
  d.ring = sc.ring;
  d.cfg = sc.cfg;
  try {
    const ParallelLayout layout = ParallelLayout::create(d, heads);
    FaultConditions conditions{layout, greedy, sc.guidance, sc.cache != "none",
                               parse_ar_strategy(sc.ar_strategy).value_or(ArStrategy::MainRank), sc.height / 16};
    const std::string why = why_fault_cannot_fire(*parse_fault(sc.fault), conditions);
    if (!why.empty()) row.fail("fault", why);
    if (sc.cfg > 1 && sc.guidance <= 1.0) row.fail("cfg", "cfg 2 needs guidance > 1");
  } catch (const LayoutError& e) {
    row.fail("world_size", e.what());
  }
}

// A scenario's image, relative to the scenario file's folder; refused when it does not exist or,
// unless the options allow it, when it resolves (symbolic links followed) outside that folder:
// a scenario file from elsewhere must not make glmh read, and embed in its reports, any file
// the user can read (docs/reliability.md#private-state).
std::string confined_image(const std::string& image, const std::string& scenario_path, const ScenarioFileOptions& options,
                           const RowParser& row) {
  const size_t slash = scenario_path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : scenario_path.substr(0, slash);
  const std::string path = image[0] == '/' ? image : folder + "/" + image;
  char real_image[PATH_MAX], real_folder[PATH_MAX];
  if (::realpath(path.c_str(), real_image) == nullptr) row.fail("image", "'" + image + "' does not exist (" + path + ")");
  if (options.images_anywhere) return path;
  if (::realpath(folder.c_str(), real_folder) == nullptr) row.fail("image", "cannot resolve the folder " + folder);
  const std::string inside = std::string(real_folder) == "/" ? "/" : std::string(real_folder) + "/";
  if (std::string(real_image).rfind(inside, 0) != 0)
    row.fail("image", "'" + image + "' lies outside the scenario file's folder " + real_folder +
                          " (--images-anywhere allows it)");
  return path;
}

}  // namespace

const std::vector<std::string>& scenario_columns() {
  static const std::vector<std::string> columns = {
      "name", "model", "task", "image", "prompt", "height", "width", "steps", "guidance", "seed", "dtype", "device",
      "world_size", "tp", "sp", "ulysses", "ring", "cfg", "ar_strategy", "cache", "fault", "expect",
      "latent_tolerance", "min_cosine", "min_psnr"};
  return columns;
}

std::vector<Scenario> read_scenario_file(const std::string& path, const ScenarioFileOptions& options) {
  std::ifstream probe(path);
  if (!probe) throw ScenarioFileError(path + ":1:1: cannot open the scenario file");
  const std::map<std::string, int> positions = header_positions(path);
  const auto& columns = scenario_columns();
  static_assert(kColumns == 25);
  for (const auto& [name, position] : positions)
    if (std::find(columns.begin(), columns.end(), name) == columns.end())
      throw ScenarioFileError(path + ":1:" + std::to_string(position) + ": unknown column '" + name +
                              "' (expected: name, model, task, image, prompt, height, width, steps, guidance, seed, "
                              "dtype, device, world_size, tp, sp, ulysses, ring, cfg, ar_strategy, cache, fault, "
                              "expect, latent_tolerance, min_cosine, min_psnr)");
  if (!positions.count("name")) throw ScenarioFileError(path + ":1:1: the header has no 'name' column");

  std::vector<Scenario> out;
  std::set<std::string> names;
  try {
    io::CSVReader<kColumns, io::trim_chars<' ', '\t'>, io::double_quote_escape<',', '"'>, io::throw_on_overflow,
                  io::single_and_empty_line_comment<'#'>>
        in(path);
    in.read_header(io::ignore_missing_column, "name", "model", "task", "image", "prompt", "height", "width", "steps",
                   "guidance", "seed", "dtype", "device", "world_size", "tp", "sp", "ulysses", "ring", "cfg",
                   "ar_strategy", "cache", "fault", "expect", "latent_tolerance", "min_cosine", "min_psnr");
    std::string v[kColumns];
    while (in.read_row(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14],
                       v[15], v[16], v[17], v[18], v[19], v[20], v[21], v[22], v[23], v[24])) {
      const int line = int(in.get_file_line());
      const RowParser row(path, line, positions);
      Scenario sc;
      sc.file_line = line;
      sc.name = v[0];
      static const std::regex kName("[A-Za-z0-9_.+-]+");
      if (!std::regex_match(sc.name, kName)) row.fail("name", "expected letters, digits and _.+- only, got '" + sc.name + "'");
      if (!names.insert(sc.name).second) row.fail("name", "'" + sc.name + "' is used twice");
      if (!v[1].empty()) sc.model = v[1];
      sc.task = row.one_of("task", v[2], "t2i", {"t2i", "i2i"});
      sc.image = v[3];
      if (sc.task == "i2i" && sc.image.empty()) row.fail("image", "task i2i needs a reference image");
      if (sc.task == "t2i" && !sc.image.empty()) row.fail("image", "task t2i takes no image");
      if (!sc.image.empty()) sc.image = confined_image(sc.image, path, options, row);
      if (!v[4].empty()) sc.prompt = v[4];
      sc.height = row.integer("height", v[5], sc.height, 32);
      sc.width = row.integer("width", v[6], sc.width, 32);
      if (sc.height % 32 != 0) row.fail("height", "expected a multiple of 32, got " + v[5]);
      if (sc.width % 32 != 0) row.fail("width", "expected a multiple of 32, got " + v[6]);
      sc.steps = row.integer("steps", v[7], sc.steps, 1);
      sc.guidance = row.real("guidance", v[8], 0.0).value_or(sc.guidance);
      sc.seed = row.big_integer("seed", v[9], sc.seed);
      sc.dtype = row.one_of("dtype", v[10], "", {"fp32", "bf16"});
      sc.device = row.one_of("device", v[11], "cpu", {"cpu", "cuda"});
      sc.tp = row.integer("tp", v[13], 1, 1);
      sc.sp = row.integer("sp", v[14], 1, 1);
      sc.ulysses = row.integer("ulysses", v[15], 0, 1);
      sc.ring = row.integer("ring", v[16], 0, 1);
      sc.cfg = row.integer("cfg", v[17], 1, 1);
      sc.world_size = row.integer("world_size", v[12], sc.tp * sc.sp * sc.cfg, 1);
      sc.ar_strategy = row.one_of("ar_strategy", v[18], "main-rank", names_of(all_ar_strategy_names()));
      sc.cache = v[19].empty() ? "none" : v[19];
      try {
        parse_cache_profile(sc.cache).for_steps(int(sc.steps));
      } catch (const CacheConfigError& e) {
        row.fail("cache", e.what());
      }
      sc.fault = row.one_of("fault", v[20], "none", names_of(all_fault_names()));
      sc.expect = v[21].empty() ? (sc.fault == "none" ? "pass" : "detect") : v[21];
      if (sc.expect != "pass" && sc.expect != "detect" && sc.expect.rfind("detect:", 0) != 0)
        row.fail("expect", "'" + sc.expect + "' is not pass, detect or detect:CHECK[+CHECK...]");
      for (const auto& check : sc.expected_catchers())
        if (std::find(all_check_names().begin(), all_check_names().end(), check) == all_check_names().end())
          row.fail("expect", "no check is named '" + check + "' (known: " + join_names(all_check_names()) + ")");
      if (sc.expects_detection() && sc.fault == "none") row.fail("expect", "detect needs a fault to detect");
      if (!sc.expects_detection() && sc.fault != "none") row.fail("expect", "a scenario with a fault must expect detect");
      sc.latent_tolerance = row.real("latent_tolerance", v[22], 0.0);
      sc.min_cosine = row.real("min_cosine", v[23], -1.0);
      sc.min_psnr = row.real("min_psnr", v[24], 0.0);
      check_against_model(sc, row);
      out.push_back(std::move(sc));
      for (auto& s : v) s.clear();
    }
  } catch (const io::error::base& e) {
    // The parser's own errors (too many columns, an unclosed quote, ...) carry the line.
    std::string message = e.what();
    int line = 0;
    if (const auto* with_line = dynamic_cast<const io::error::with_file_line*>(&e)) line = with_line->file_line;
    int column = 1;
    if (const auto* with_name = dynamic_cast<const io::error::with_column_name*>(&e))
      if (const auto it = positions.find(with_name->column_name); it != positions.end()) column = it->second;
    throw ScenarioFileError(path + ":" + std::to_string(std::max(line, 1)) + ":" + std::to_string(column) + ": " + message);
  }
  if (out.empty()) throw ScenarioFileError(path + ":1:1: no scenarios in the file");
  return out;
}

std::vector<Scenario> filter_scenarios(const std::vector<Scenario>& all, const std::string& filter) {
  if (filter.empty()) return all;
  std::regex re;
  try {
    re = std::regex(filter);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("--filter '" + filter + "' is not a valid regular expression: " + e.what());
  }
  std::vector<Scenario> out;
  for (const auto& s : all)
    if (std::regex_search(s.name, re)) out.push_back(s);
  return out;
}

}  // namespace glmh
