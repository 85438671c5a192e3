// A serialised Request (pipeline/executor/request.h), as ranks receive it from the main rank: an
// accepted one serialises back.
#include <ATen/ATen.h>

#include <cstdlib>
#include <fstream>

#include "fuzz/fuzz_input.h"
#include "pipeline/executor/request.h"

namespace {

// GLMH_FUZZ_WRITE_SEED=PATH: write a request shaped like a run's (tensors on both scopes, every
// scalar kind, a generator, timings) to PATH, the corpus's seed (run_request.safetensors), and exit.
void write_seed_if_asked() {
  const char* path = std::getenv("GLMH_FUZZ_WRITE_SEED");
  if (path == nullptr) return;
  glmh::Request r;
  r.set_tensor("prior_token_ids", at::arange(6, at::kLong).reshape({1, 6}));
  r.set_tensor("latents", at::ones({1, 2, 2, 2}, at::kBFloat16), glmh::FieldScope::RankLocal);
  r.set_int("height", 64);
  r.set_double("guidance_scale", 1.5);
  r.set_bool("greedy", true);
  r.set_string("prompt", "A red poster that says \"glmh\"");
  r.set_generator(glmh::Request::make_generator(c10::Device(c10::kCPU), 42));
  r.add_timing("glm_image.ar", 0.25);
  std::ofstream(path, std::ios::binary) << r.serialize();
  std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  write_seed_if_asked();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glmh;
  fuzz::refuse_only_with<RequestError>(
      [&] { Request::deserialize(fuzz::text_of(data, size), c10::Device(c10::kCPU)).serialize(); });
  return 0;
}
