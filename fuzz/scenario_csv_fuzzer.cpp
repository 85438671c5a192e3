// Scenario files (harness/scenarios/scenario_file.h): every refusal is "FILE:LINE:COLUMN: ...".
#include "fuzz/fuzz_input.h"
#include "harness/scenarios/scenario_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  const std::string& path = fuzz::write_input_file(data, size, ".csv");
  try {
    for (const Scenario& s : read_scenario_file(path)) fuzz::require(!s.name.empty() && s.world_size >= 1, "named, with ranks");
  } catch (const ScenarioFileError& e) {
    fuzz::check_message(e.what());
    fuzz::require(std::string(e.what()).rfind(path + ":", 0) == 0, "the refusal starts with FILE:");
  }
  return 0;
}
