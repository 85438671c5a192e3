// libtorch's profiler around a few denoise steps, for the step breakdown (step_breakdown.h). On a
// GPU it is the Kineto profiler (CUPTI kernel records); on the CPU, where Debian's libtorch has no
// Kineto, the legacy profiler, which records every operator on the calling thread. Either way the
// result is a Chrome trace (JSON) that Perfetto opens. Not thread-safe; one at a time per process.
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace glmh {

class StepProfiler {
 public:
  explicit StepProfiler(const c10::Device& device);
  ~StepProfiler();
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

  // Starts recording. The caller synchronises the device first, so that earlier work stays out.
  void start();
  // Stops recording (after the caller synchronised the device) and returns the Chrome trace.
  // Throws std::runtime_error when this libtorch cannot write one.
  std::string stop();
  bool recording() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The name of rank `rank`'s trace in a run directory: trace-rank<R>.json.
std::string trace_file_name(int rank);

}  // namespace glmh
