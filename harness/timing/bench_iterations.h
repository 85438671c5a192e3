// The timed part of a benchmark run (performance mode, in LoadGen's terms): the pipeline executed
// again and again on the loaded models, without any check, until both a minimum count and a
// minimum duration are reached; warm-up iterations before it are not recorded. Every rank times
// every stage (device-synchronised at stage ends) and every denoise step (device events, no host
// wait inside the loop); the figures are reduced with max over ranks, as latency is.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pipeline/executor/request.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"

namespace glmh {

class GlmImageModels;
class RankContext;

struct BenchSettings {
  int warmup = 0;           // untimed iterations first
  int repeat = 0;           // at least this many timed iterations (0: no timing)
  double min_seconds = 0;   // and at least this long
};

struct BenchSamples {
  std::vector<std::string> stages;
  std::vector<std::vector<double>> stage_seconds;  // [iteration][stage], max over ranks
  std::vector<double> end_to_end_seconds;          // [iteration], max over ranks of the sum
  std::vector<std::vector<double>> step_seconds;   // [iteration][step], max over ranks
  std::vector<double> peak_memory_bytes;           // [rank]
  std::vector<double> collective_host_seconds;     // [rank], during the timed iterations
  nlohmann::json to_json() const;                  // samples and their median / p90 / min / max
};

// Collective over the world: every rank must call it with the same settings.
BenchSamples run_bench_iterations(RankContext& ctx, const std::shared_ptr<GlmImageModels>& models,
                                  const Request& request, GlmImageRunOptions options, const BenchSettings& settings);

// Median, p90 (nearest rank), min, max of samples.
nlohmann::json sample_statistics(std::vector<double> samples);

}  // namespace glmh
