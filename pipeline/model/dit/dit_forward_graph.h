// One DiT forward replayed as a CUDA graph (docs/performance.md#cuda-graphs). A 1024² forward is
// ~640 kernels; enqueued from the host they leave the GPU idle while the host catches up (the
// first blocks, the per-block parameter lookups), ~5 ms of a ~100 ms forward on an H200. A
// denoising loop calls the DiT with the same shapes and the same conditioning every step; only
// the latents and the timestep change, so one capture serves every step after the first.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "pipeline/model/dit/glm_image_dit.h"
#include "pipeline/runtime/cuda_graph.h"

namespace glmh {

class DitForwardGraph {
 public:
  // Whether a forward of `inputs` on `device` can be captured: a CUDA build and device, any TP /
  // SP groups on NCCL (their collectives go into the graph; every rank captures and replays its
  // own, so the ranks' calls stay matched), the rotary rows given on the device, no block cache
  // (its decisions are made on the host) and no reference-KV write. The latents need not be set
  // yet.
  static bool supports(const DiTInputs& inputs, const c10::Device& device);

  // dit.forward(inputs): eagerly on the first call (the warm-up a capture needs), captured on the
  // second and replayed from then on, each time with this call's latents and timestep. Every
  // other input must be the same tensors (same storage, same data) as on the second call, and
  // `dit` the same model: checked, a mismatch throws std::logic_error.
  at::Tensor forward(const GlmImageDiT& dit, const DiTInputs& inputs);

 private:
  // What the capture read besides the latents and the timestep: model and tensor addresses.
  static std::vector<const void*> fixed_inputs(const GlmImageDiT& dit, const DiTInputs& inputs);

  CudaGraph graph_;  // declared first: destroyed after the tensors from its pool
  std::vector<const void*> fixed_;
  at::Tensor latents_, timestep_, output_;
};

}  // namespace glmh
