// A report's results.csv (harness/reports/report_writers.h), which glmh gate and validate read
// back: an accepted file writes back and reads back to the same outcomes.
#include <stdexcept>

#include "fuzz/fuzz_input.h"
#include "harness/reports/report_writers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  const std::string& path = fuzz::write_input_file(data, size, ".csv");
  fuzz::refuse_only_with<std::runtime_error>([&] {
    const auto outcomes = read_results_csv(path);
    results_csv_text(outcomes);
  });
  return 0;
}
