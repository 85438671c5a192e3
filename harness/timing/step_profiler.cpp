#include "harness/timing/step_profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "pipeline/runtime/error_text.h"
#include "pipeline/runtime/file_contents.h"
#include "pipeline/runtime/posix_fs.h"

namespace glmh {

namespace kineto = torch::autograd::profiler;
namespace profiler_impl = torch::profiler::impl;

struct StepProfiler::Impl {
  c10::Device device;
  bool kineto_on = false;
  std::ostringstream legacy_trace;
  std::unique_ptr<torch::autograd::profiler::RecordProfile> legacy;
};

StepProfiler::StepProfiler(const c10::Device& device) : impl_(std::make_unique<Impl>(Impl{device, false, {}, nullptr})) {}

StepProfiler::~StepProfiler() {
  if (impl_->kineto_on) {
    try {
      kineto::disableProfiler();
    } catch (...) {
    }
  }
}

bool StepProfiler::recording() const { return impl_->kineto_on || impl_->legacy; }

void StepProfiler::start() {
  if (recording()) throw std::logic_error("StepProfiler::start: already recording");
  if (impl_->device.is_cuda()) {
    const profiler_impl::ProfilerConfig config(profiler_impl::ProfilerState::KINETO);
    const std::set<profiler_impl::ActivityType> activities{profiler_impl::ActivityType::CPU,
                                                           profiler_impl::ActivityType::CUDA};
    try {
      kineto::prepareProfiler(config, activities);
      kineto::enableProfiler(config, activities);
    } catch (const std::exception& e) {
      throw std::runtime_error("the profiler did not start: " + one_line_error(e));
    }
    impl_->kineto_on = true;
  } else {
    impl_->legacy_trace.str("");
    impl_->legacy = std::make_unique<torch::autograd::profiler::RecordProfile>(impl_->legacy_trace);
  }
}

std::string StepProfiler::stop() {
  if (impl_->legacy) {
    impl_->legacy.reset();  // writes the trace
    return impl_->legacy_trace.str();
  }
  if (!impl_->kineto_on) throw std::logic_error("StepProfiler::stop: not recording");
  impl_->kineto_on = false;
  // Kineto writes its trace to a file only: one in a private temporary directory, read back.
  const std::string dir = posix_fs::make_temp_directory("/tmp", "glmh-trace-");
  const std::string path = dir + "/trace.json";
  std::optional<std::string> trace;
  std::string error;
  try {
    kineto::disableProfiler()->save(path);
    trace = file_contents(path);
  } catch (const std::exception& e) {
    error = one_line_error(e);
  }
  posix_fs::remove_tree(dir);
  if (!trace) throw std::runtime_error("the profiler's trace could not be written: " + (error.empty() ? path : error));
  return *trace;
}

std::string trace_file_name(int rank) { return "trace-rank" + std::to_string(rank) + ".json"; }

}  // namespace glmh
