// glmh gate's baseline CSV (harness/commands/gate_command.h).
#include "fuzz/fuzz_input.h"
#include "harness/commands/gate_command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  const std::string& path = fuzz::write_input_file(data, size, ".csv");
  fuzz::refuse_only_with<GateInputError>([&] {
    for (const BaselineRow& row : read_baseline(path)) gate_bound(row);
  });
  return 0;
}
