// Marks on a device's timeline, read after the fact: how long each denoise step took without
// synchronising the host inside the loop. On CUDA a mark records a timing event on the current
// stream (no host wait); on the CPU, where every op has finished when it returns, a mark is the
// host clock. intervals() synchronises once, then returns the seconds between consecutive marks.
#pragma once

#include <c10/core/Device.h>

#include <chrono>
#include <memory>
#include <vector>

namespace glmh {

class DeviceTimeline {
 public:
  explicit DeviceTimeline(const c10::Device& device);
  ~DeviceTimeline();
  DeviceTimeline(const DeviceTimeline&) = delete;
  DeviceTimeline& operator=(const DeviceTimeline&) = delete;

  void mark();
  // Seconds between mark i and mark i + 1 (waits for the device first).
  std::vector<double> intervals();
  void clear();

 private:
  struct CudaMarks;
  c10::Device device_;
  std::vector<std::chrono::steady_clock::time_point> host_marks_;
  std::unique_ptr<CudaMarks> cuda_;
};

// Peak bytes this rank allocated on `device` since the last reset: the CUDA caching allocator's
// peak on a GPU, the process's peak resident set on the CPU (which cannot be reset).
int64_t peak_memory_bytes(const c10::Device& device);
void reset_peak_memory(const c10::Device& device);

}  // namespace glmh
