#include "pipeline/model/dit/dit_forward_graph.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "pipeline/parallel/sequence_parallel_attention.h"
#include "pipeline/runtime/communicator.h"

namespace glmh {

bool DitForwardGraph::supports(const DiTInputs& in, const c10::Device& device) {
  // TP and SP collectives are captured on NCCL groups (docs/performance.md#cuda-graphs), not on Gloo.
  auto captures = [](const Communicator* group) { return group == nullptr || group->captures_in_cuda_graphs(); };
  const DitParallelism* parallel = in.parallel;
  const SequenceParallelAttention* sp = parallel == nullptr ? nullptr : parallel->sp;
  const bool sp_captures = sp == nullptr || (captures(sp->ulysses) && captures(sp->ring));
  const bool collectives_capture = sp_captures && (parallel == nullptr || captures(parallel->tp));
  // Without the rotary rows the forward builds them on the host and copies them over, which a
  // capture refuses.
  auto on_device = [&](const at::Tensor& t) {  // "cuda" (no index) is the current device
    return t.defined() && t.device().type() == device.type() &&
           (!device.has_index() || t.device().index() == device.index());
  };
  const bool rotary_on_device = on_device(in.rotary_cos) && on_device(in.rotary_sin);
  return CudaGraph::available(device) && collectives_capture && rotary_on_device && in.block_cache == nullptr &&
         in.kv_cache_mode != DitKvCacheMode::kWrite;
}

std::vector<const void*> DitForwardGraph::fixed_inputs(const GlmImageDiT& dit, const DiTInputs& in) {
  auto address = [](const at::Tensor& t) -> const void* { return t.defined() ? t.data_ptr() : nullptr; };
  return {&dit,
          in.parallel,
          address(in.glyph_embeds),
          address(in.prior_token_id),
          address(in.prior_token_drop),
          address(in.target_size),
          address(in.crop_coords),
          address(in.rotary_cos),
          address(in.rotary_sin),
          in.kv_cache,
          reinterpret_cast<const void*>(static_cast<intptr_t>(in.kv_cache_mode))};
}

at::Tensor DitForwardGraph::forward(const GlmImageDiT& dit, const DiTInputs& in) {
  if (!supports(in, in.latents.device()))
    throw std::logic_error("DitForwardGraph: these DiT inputs cannot be captured (see supports)");
  if (!latents_.defined()) {  // first call: the buffers the capture will read, and the eager warm-up
    latents_ = in.latents.clone();
    timestep_ = in.timestep.clone();
    return dit.forward(in);
  }
  if (!in.latents.sizes().equals(latents_.sizes()) || in.latents.scalar_type() != latents_.scalar_type() ||
      !in.timestep.sizes().equals(timestep_.sizes()) || (graph_.captured() && fixed_inputs(dit, in) != fixed_))
    throw std::logic_error("DitForwardGraph: called with other conditioning or shapes than it captured");
  latents_.copy_(in.latents);
  timestep_.copy_(in.timestep);
  if (!graph_.captured()) {
    fixed_ = fixed_inputs(dit, in);
    DiTInputs captured = in;
    captured.latents = latents_;
    captured.timestep = timestep_;
    graph_.capture(in.latents.device(), [&] { output_ = dit.forward(captured); });
  }
  graph_.replay();
  return output_.clone();  // the next replay rewrites output_
}

}  // namespace glmh
