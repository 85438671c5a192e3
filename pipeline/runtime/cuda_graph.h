// A CUDA graph captured from host code that enqueues device work, replayed with one launch
// (docs/performance.md#cuda-graphs). The capture and the replays run on a side stream ordered
// after the work already on the caller's stream, and the caller's later work runs after them, so
// callers use it as if it ran on their own stream. In a build without CUDA, available() is false
// and nothing else may be called.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <memory>

namespace glmh {

class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();  // waits for the last replay: the graph's memory pool goes with it
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // A CUDA build and a CUDA device.
  static bool available(const c10::Device& device);
  bool captured() const { return impl_ != nullptr; }

  // Records what `enqueue` enqueues on `device` (it must not synchronise with the host); nothing
  // runs until replay(). Tensors it allocates come from the graph's own pool and stay valid (and
  // are rewritten by each replay) while the graph lives. Run `enqueue` once eagerly before: the
  // first call of a library may create handles or synchronise, which a capture cannot.
  void capture(const c10::Device& device, const std::function<void()>& enqueue);
  void replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace glmh
