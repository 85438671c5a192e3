#include "harness/timing/bench_iterations.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "harness/checks/rank_gather.h"
#include "harness/timing/step_profiler.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/runtime/device_timeline.h"
#include "pipeline/runtime/error_text.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

namespace {

double collective_seconds(RankContext& ctx) {
  double s = 0;
  for (GroupKind kind : kAllGroupKinds) s += ctx.group(kind).host_seconds_in_collectives();
  return s;
}

// Element-wise max over ranks of a [n] double vector (n equal on every rank).
std::vector<double> max_over_ranks(RankContext& ctx, const std::vector<double>& mine) {
  if (mine.empty()) return {};
  at::Tensor t = at::tensor(mine, at::TensorOptions().dtype(at::kDouble)).to(ctx.device());
  ctx.group(GroupKind::World).all_reduce(t, ReduceOp::Max);
  ctx.synchronize_device();
  const at::Tensor host = t.cpu();
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

// Every rank's value, in rank order.
std::vector<double> per_rank(RankContext& ctx, double mine) {
  const int n = ctx.world_size();
  std::vector<double> slots(size_t(n), -INFINITY);
  slots[size_t(ctx.rank())] = mine;
  return max_over_ranks(ctx, slots);
}

// One more iteration with denoise steps 3 .. 2 + settings.profile_steps under the profiler: the
// first step warms handles and caches, the second captures the DiT's CUDA graph where one is used
// (docs/performance.md#cuda-graphs); neither is a step like the others. The device is drained
// before the profiler starts and before it stops, so the trace holds those steps alone. Every
// rank's trace reaches rank 0, which reads the breakdowns from them.
StepProfile profile_denoise_steps(RankContext& ctx, const std::shared_ptr<GlmImageModels>& models,
                                  const Request& request, GlmImageRunOptions options, int profile_steps) {
  constexpr int64_t kFirst = 2;  // steps done when recording starts
  StepProfiler profiler(ctx.device());
  std::string trace, error;
  int64_t recorded_steps = 0;
  const auto progress = options.on_denoise_step;
  options.denoise_steps = nullptr;
  options.on_denoise_step = [&](int64_t done, int64_t total) {
    if (progress) progress(done, total);
    try {
      if (done == kFirst && total > kFirst) {
        ctx.synchronize_device();
        profiler.start();
      } else if (profiler.recording() && (done == kFirst + profile_steps || done == total)) {
        ctx.synchronize_device();
        recorded_steps = done - kFirst;
        trace = profiler.stop();
      }
    } catch (const std::runtime_error& e) {  // the profiler's own failure: no breakdown, the run goes on
      error = one_line_error(e);
    }
  };
  GlmImageStageSet pipeline = make_glm_image_stages(models, options);
  Request r = request;
  ParallelExecutor(ctx).execute(pipeline.stages, r);
  if (trace.empty() && error.empty()) error = "a profile needs at least 3 denoise steps";

  StepProfile out;
  const std::vector<std::string> traces = gather_strings(ctx.group(GroupKind::World), trace);
  const std::vector<std::string> errors = gather_strings(ctx.group(GroupKind::World), error);
  if (ctx.rank() != 0) return out;
  out.error = join_rank_reports(errors);
  if (!out.error.empty()) return out;
  out.traces = traces;
  try {
    for (size_t rank = 0; rank < traces.size(); ++rank)
      out.breakdowns.push_back(step_breakdown_from_trace(traces[rank], int(recorded_steps),
                                                         "rank " + std::to_string(rank) + "'s trace"));
  } catch (const TraceFormatError& e) {
    out.breakdowns.clear();
    out.error = e.what();
  }
  return out;
}

}  // namespace

int StepProfile::critical_rank() const {
  int slowest = 0;
  for (size_t r = 1; r < breakdowns.size(); ++r)
    if (breakdowns[r].step > breakdowns[size_t(slowest)].step) slowest = int(r);
  return slowest;
}

nlohmann::json StepProfile::to_json() const {
  nlohmann::json j;
  if (!error.empty()) {
    j["error"] = error;
    return j;
  }
  j["critical_rank"] = critical_rank();
  for (const auto& b : breakdowns) j["ranks"].push_back(b.to_json());
  return j;
}

nlohmann::json sample_statistics(std::vector<double> samples) {
  if (samples.empty()) return nullptr;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  const double median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  const size_t p90 = std::min(n - 1, size_t(std::ceil(0.9 * double(n))) - 1);
  return {{"median", median}, {"p90", samples[p90]}, {"min", samples.front()}, {"max", samples.back()}, {"count", n}};
}

nlohmann::json BenchSamples::to_json() const {
  nlohmann::json j;
  j["iterations"] = stage_seconds.size();
  j["stages"] = stages;
  j["stage_seconds"] = stage_seconds;
  j["end_to_end_seconds"] = end_to_end_seconds;
  j["denoise_step_seconds"] = step_seconds;
  j["peak_memory_bytes"] = peak_memory_bytes;
  j["collective_host_seconds"] = collective_host_seconds;
  if (profile) j["step_breakdown"] = profile->to_json();
  for (size_t s = 0; s < stages.size(); ++s) {
    std::vector<double> v;
    for (const auto& it : stage_seconds) v.push_back(it[s]);
    j["statistics"][stages[s]] = sample_statistics(v);
  }
  j["statistics"]["end_to_end"] = sample_statistics(end_to_end_seconds);
  std::vector<double> steps;
  for (const auto& it : step_seconds) steps.insert(steps.end(), it.begin(), it.end());
  j["statistics"]["denoise_step"] = sample_statistics(steps);
  return j;
}

BenchSamples run_bench_iterations(RankContext& ctx, const std::shared_ptr<GlmImageModels>& models,
                                  const Request& request, GlmImageRunOptions options, const BenchSettings& settings) {
  BenchSamples out;
  DeviceTimeline timeline(ctx.device());
  options.on_sp_shards = nullptr;  // no check inside the timed iterations
  options.on_ar_token = options.on_denoise_step = nullptr;
  options.denoise_steps = &timeline;
  GlmImageStageSet pipeline = make_glm_image_stages(models, options);
  for (const auto& stage : pipeline.stages) out.stages.push_back(stage->name());

  for (int i = 0; i < settings.warmup; ++i) {
    Request r = request;
    ParallelExecutor(ctx).execute(pipeline.stages, r);
  }
  timeline.clear();
  reset_peak_memory(ctx.device());
  const double collectives_before = collective_seconds(ctx);
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> flat_stages, flat_steps;
  int64_t steps_per_iteration = -1;
  for (int iteration = 0;; ++iteration) {
    Request r = request;
    timeline.clear();
    ParallelExecutor executor(ctx);
    executor.execute(pipeline.stages, r);
    for (const auto& record : executor.records()) flat_stages.push_back(record.total_seconds);
    const std::vector<double> steps = timeline.intervals();
    if (steps_per_iteration < 0) steps_per_iteration = int64_t(steps.size());
    flat_steps.insert(flat_steps.end(), steps.begin(), steps.end());
    // Rank 0 decides whether to go on (count and duration both met), so that all ranks agree.
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    at::Tensor more = at::full({1}, (iteration + 1 < settings.repeat || elapsed < settings.min_seconds) ? 1 : 0,
                               at::TensorOptions().dtype(at::kInt).device(ctx.device()));
    ctx.group(GroupKind::World).broadcast(more, 0);
    ctx.synchronize_device();
    if (more.cpu().item<int>() == 0) break;
  }
  const double collectives = collective_seconds(ctx) - collectives_before;

  // Max over ranks, then back into [iteration][...].
  const std::vector<double> stages = max_over_ranks(ctx, flat_stages);
  const std::vector<double> steps = max_over_ranks(ctx, flat_steps);
  const size_t per = out.stages.size();
  for (size_t i = 0; i * per < stages.size(); ++i) {
    out.stage_seconds.emplace_back(stages.begin() + long(i * per), stages.begin() + long((i + 1) * per));
    double total = 0;
    for (double s : out.stage_seconds.back()) total += s;
    out.end_to_end_seconds.push_back(total);
  }
  for (size_t i = 0; steps_per_iteration > 0 && i * size_t(steps_per_iteration) < steps.size(); ++i)
    out.step_seconds.emplace_back(steps.begin() + long(i * size_t(steps_per_iteration)),
                                  steps.begin() + long((i + 1) * size_t(steps_per_iteration)));
  out.peak_memory_bytes = per_rank(ctx, double(peak_memory_bytes(ctx.device())));
  out.collective_host_seconds = per_rank(ctx, collectives);
  if (settings.profile_steps > 0)
    out.profile = profile_denoise_steps(ctx, models, request, options, settings.profile_steps);
  return out;
}

}  // namespace glmh
