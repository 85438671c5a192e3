// The timed part of a benchmark run (performance mode, in LoadGen's terms): the pipeline executed
// again and again on the loaded models, without any check, until both a minimum count and a
// minimum duration are reached; warm-up iterations before it are not recorded. Every rank times
// every stage (device-synchronised at stage ends) and every denoise step (device events, no host
// wait inside the loop); the figures are reduced with max over ranks, as latency is. With a profile,
// one more iteration runs a few of its denoise steps under the profiler (docs/performance.md#step-breakdown):
// it is not among the timed ones, as profiling slows a step down.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "harness/timing/step_breakdown.h"
#include "pipeline/executor/request.h"
#include "pipeline/glm_image/glm_image_parallel_options.h"

namespace glmh {

class GlmImageModels;
class RankContext;

struct BenchSettings {
  int warmup = 0;           // untimed iterations first
  int repeat = 0;           // at least this many timed iterations (0: no timing)
  double min_seconds = 0;   // and at least this long
  // After the timed iterations, one more whose denoise steps 2 .. 1 + profile_steps run under
  // libtorch's profiler (0: none): a Chrome trace per rank and the step breakdown.
  int profile_steps = 0;
};

// The profiled iteration's outcome, on rank 0 (other ranks: empty).
struct StepProfile {
  std::vector<std::string> traces;        // [rank] Chrome trace JSON
  std::vector<StepBreakdown> breakdowns;  // [rank]
  std::string error;                      // why there is none ("" when there is)
  // The rank with the longest profiled step: latency is the slowest rank's.
  int critical_rank() const;
  nlohmann::json to_json() const;
};

struct BenchSamples {
  std::vector<std::string> stages;
  std::vector<std::vector<double>> stage_seconds;  // [iteration][stage], max over ranks
  std::vector<double> end_to_end_seconds;          // [iteration], max over ranks of the sum
  std::vector<std::vector<double>> step_seconds;   // [iteration][step], max over ranks
  std::vector<double> peak_memory_bytes;           // [rank]
  std::vector<double> collective_host_seconds;     // [rank], during the timed iterations
  std::optional<StepProfile> profile;              // with BenchSettings::profile_steps
  nlohmann::json to_json() const;                  // samples and their median / p90 / min / max
};

// Collective over the world: every rank must call it with the same settings.
BenchSamples run_bench_iterations(RankContext& ctx, const std::shared_ptr<GlmImageModels>& models,
                                  const Request& request, GlmImageRunOptions options, const BenchSettings& settings);

// Median, p90 (nearest rank), min, max of samples.
nlohmann::json sample_statistics(std::vector<double> samples);

}  // namespace glmh
