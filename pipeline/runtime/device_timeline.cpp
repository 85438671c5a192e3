#include "pipeline/runtime/device_timeline.h"

#include <sys/resource.h>

#if defined(GLMH_WITH_NCCL)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace glmh {

struct DeviceTimeline::CudaMarks {
#if defined(GLMH_WITH_NCCL)
  std::vector<std::unique_ptr<at::cuda::CUDAEvent>> events;
#endif
};

DeviceTimeline::DeviceTimeline(const c10::Device& device) : device_(device), cuda_(std::make_unique<CudaMarks>()) {}
DeviceTimeline::~DeviceTimeline() = default;

void DeviceTimeline::mark() {
#if defined(GLMH_WITH_NCCL)
  if (device_.is_cuda()) {
    c10::cuda::CUDAGuard guard(device_.index());
    auto event = std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault);  // timing enabled
    event->record(c10::cuda::getCurrentCUDAStream(device_.index()));
    cuda_->events.push_back(std::move(event));
    return;
  }
#endif
  host_marks_.push_back(std::chrono::steady_clock::now());
}

std::vector<double> DeviceTimeline::intervals() {
  std::vector<double> out;
#if defined(GLMH_WITH_NCCL)
  if (device_.is_cuda()) {
    auto& e = cuda_->events;
    if (!e.empty()) e.back()->synchronize();
    for (size_t i = 1; i < e.size(); ++i) out.push_back(e[i - 1]->elapsed_time(*e[i]) / 1000.0);
    return out;
  }
#endif
  for (size_t i = 1; i < host_marks_.size(); ++i)
    out.push_back(std::chrono::duration<double>(host_marks_[i] - host_marks_[i - 1]).count());
  return out;
}

void DeviceTimeline::clear() {
  host_marks_.clear();
#if defined(GLMH_WITH_NCCL)
  cuda_->events.clear();
#endif
}

int64_t peak_memory_bytes(const c10::Device& device) {
#if defined(GLMH_WITH_NCCL)
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].peak;  // entry 0: the aggregate over pools (StatType::AGGREGATE)
  }
#endif
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_maxrss) * 1024;
}

void reset_peak_memory(const c10::Device& device) {
#if defined(GLMH_WITH_NCCL)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#else
  (void)device;
#endif
}

}  // namespace glmh
