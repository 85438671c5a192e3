// Cost of moving a request between ranks: the MAIN_RANK_ONLY_AND_SEND_TO_OTHERS stage serialises the
// whole request on rank 0 and reads it back on every other rank, once per generation. Sized like
// GLM-Image at 1024x1024: 4096 prior tokens, latents [16, 128, 128] fp32, a CPU generator.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "pipeline/executor/request.h"

namespace {

glmh::Request glm_image_sized_request() {
  glmh::Request r;
  r.set_generator(glmh::Request::make_generator(c10::Device(c10::kCPU), 42));
  r.set_tensor("prior_token_ids", at::randint(16384, {1, 4096}, r.generator(), at::kLong));
  r.set_tensor("latents", at::randn({1, 16, 128, 128}, r.generator()));
  r.set_string("prompt", "A poster that reads \"GLM-Image\" in bold letters");
  r.set_int("height", 1024);
  r.set_int("width", 1024);
  r.set_double("guidance", 1.5);
  return r;
}

void BM_RequestSerialize(benchmark::State& state) {
  const glmh::Request r = glm_image_sized_request();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string s = r.serialize();
    bytes = s.size();
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_RequestSerialize)->Unit(benchmark::kMicrosecond);

void BM_RequestDeserialize(benchmark::State& state) {
  const std::string s = glm_image_sized_request().serialize();
  for (auto _ : state) {
    glmh::Request r = glmh::Request::deserialize(s, c10::Device(c10::kCPU));
    benchmark::DoNotOptimize(r.tensor("latents").data_ptr());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.size()));
}
BENCHMARK(BM_RequestDeserialize)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
