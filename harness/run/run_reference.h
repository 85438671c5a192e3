// A run's single-rank reference (docs/checks.md#references): found in the golden store when one
// matches the request, and where it came from, said in every report. A reference computed by the
// binary under test shares its defects, so a bug in a path the single-rank run also takes passes
// unseen; a golden was made by a recorded revision before.
#pragma once

#include <string>

#include "harness/scenarios/scenario.h"

namespace glmh {

class CliArgs;

// The request of a glmh run's arguments as a scenario (its layout left single-rank).
Scenario request_scenario_of(const CliArgs& args);

// STORE/KEY when the golden store (not "" or "none") holds the single-rank run of `request` and the
// request can have one (Scenario::golden_portable), else "".
std::string golden_of(const Scenario& request, const std::string& store);

// golden_of for a glmh run's arguments. Options the golden key does not cover (a preset's weight
// seed, sampling overrides, the glyph length) mean no golden matches.
std::string matching_golden(const CliArgs& args, const std::string& store);

// One line for `dir` (a golden of glmh golden, or a glmh run directory): "golden KEY (glmh REV,
// TIME)", "computed by the binary under test (glmh REV)", "a run of glmh REV"; "" for "" (none).
std::string reference_origin(const std::string& dir);
bool reference_computed_by_this_binary(const std::string& origin);

}  // namespace glmh
