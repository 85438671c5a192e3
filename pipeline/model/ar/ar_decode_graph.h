// Replaying the AR decode step as one CUDA graph. A decode step of the 9 B model is ~1000 small
// kernels whose launches, not the GPU, set its time (≈ 30 ms per token against a ≈ 4 ms HBM
// floor on an H200); captured once, it is replayed with one launch per token. The step must keep
// its state on the device (token, decode index, cache slot: see generate_image_tokens), which it
// does, so a replay needs nothing from the host.
#pragma once

#include <c10/core/Device.h>

#include <functional>

namespace glmh {

// Runs `step` `count` times on `device`: the first time eagerly (the warm-up that creates cuBLAS
// handles and workspaces), then as replays of a graph captured from the second call. Returns
// false, having run nothing, where graphs are not available (not a CUDA build, not a CUDA
// device): the caller then runs the steps itself. `after_each(i)` is called on the host after
// step i is enqueued (progress).
bool replay_as_cuda_graph(const c10::Device& device, int64_t count, const std::function<void()>& step,
                          const std::function<void(int64_t)>& after_each);

}  // namespace glmh
