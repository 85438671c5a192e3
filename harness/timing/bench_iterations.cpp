#include "harness/timing/bench_iterations.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/runtime/device_timeline.h"
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

}  // namespace

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
  return out;
}

}  // namespace glmh
