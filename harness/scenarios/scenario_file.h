// Reading a scenario file (scenarios/*.csv) with fast-cpp-csv-parser. Everything is checked before
// anything runs: an unknown column, a bad value, a duplicate name, an impossible layout or a fault
// that could never fire is a ScenarioFileError "FILE:LINE:COLUMN: what was expected".
#pragma once

#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/scenarios/scenario.h"
#include "pipeline/runtime/printable_text.h"

namespace glmh {

// One line, outside text (cells, column names) escaped.
class ScenarioFileError : public std::invalid_argument {
 public:
  explicit ScenarioFileError(const std::string& what) : std::invalid_argument(printable(what, 1000)) {}
};

// The columns, in documentation order.
const std::vector<std::string>& scenario_columns();

struct ScenarioFileOptions {
  // Allow `image` paths outside the scenario file's folder (absolute, "..", or a link out).
  bool images_anywhere = false;
};

std::vector<Scenario> read_scenario_file(const std::string& path, const ScenarioFileOptions& options = {});

// The scenarios whose name matches `filter` (ECMAScript regex, searched; empty: all).
std::vector<Scenario> filter_scenarios(const std::vector<Scenario>& all, const std::string& filter);

}  // namespace glmh
