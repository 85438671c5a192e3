#include "pipeline/model/ar/ar_generation.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "pipeline/model/ar/ar_decode_graph.h"
#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/glm_image_text_model.h"

namespace glmh {

ArGeneration generate_image_tokens(const GlmImageTextModel& model, const GlmImageTokenIds& ids,
                                   const at::Tensor& input_ids, const std::vector<GridThw>& grids,
                                   const ArGenerationOptions& options) {
  if (input_ids.dim() != 2 || input_ids.size(0) != 1 || input_ids.size(1) == 0)
    throw std::invalid_argument("AR generation: input_ids must be [1, S] with S > 0");
  const at::Tensor ids_cpu = input_ids.to(at::kCPU, at::kLong).contiguous();
  const std::vector<int64_t> prompt(ids_cpu.data_ptr<int64_t>(), ids_cpu.data_ptr<int64_t>() + ids_cpu.numel());
  const ArPositions positions = glm_image_rope_index(prompt, grids, ids.image_start_token_id, ids.image_end_token_id);
  const int64_t total = positions.decode.size(1);
  if (total == 0) throw std::invalid_argument("AR generation: every image grid is already in the prompt");

  const c10::Device device = input_ids.device();
  const int64_t prompt_len = int64_t(prompt.size());
  ArKvCache cache(model.config(), 1, prompt_len + total, device, model.dtype());
  const at::Tensor uniforms = sampling_uniforms(options.seed, total, device);
  const at::Tensor prefill_positions = positions.prefill.unsqueeze(1).to(device);  // [3, 1, S]
  const at::Tensor decode_positions = positions.decode.unsqueeze(1).to(device);    // [3, 1, T]

  ArGeneration out;
  out.prompt_tokens = prompt_len;
  out.generated = at::zeros({1, total}, at::TensorOptions().dtype(at::kLong).device(device));
  // The decode loop's state lives on the device, so that a step needs nothing from the host and a
  // CUDA graph can replay it: the hidden state of the last token and the decode index j (the
  // token fed in step j goes to cache slot prompt_len + j).
  at::Tensor hidden = model.hidden_states(input_ids.to(at::kLong), prefill_positions, &cache)
                          .narrow(1, prompt_len - 1, 1)
                          .contiguous();
  const auto index = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor step = at::zeros({1}, index);
  const int64_t codebook = options.restrict_grids_to_codebook ? ids.codebook_size : 0;
  // Step j (every token but the end marker): choose token j from `hidden` among the codebook ids,
  // write it, run it through the model at decode position j and slot prompt_len + j.
  auto decode_step = [&] {
    const at::Tensor token = select_tokens(model.logits(hidden).select(1, 0), uniforms.index_select(0, step),
                                           options.sampling, codebook);
    out.generated.index_copy_(1, step, token.view({1, 1}));
    hidden.copy_(model.hidden_states(token.view({1, 1}), decode_positions.index_select(2, step), &cache, step + prompt_len));
    step.add_(1);
  };
  auto progress = [&](int64_t j) {
    if (options.on_token) options.on_token(j + 1, total);
  };
  const int64_t grid_tokens = total - 1;
  // On a TP group over NCCL the graph holds the step's collectives, every rank replaying its own.
  const bool capture = options.use_cuda_graph && model.decode_step_captures();
  if (!(capture && replay_as_cuda_graph(device, grid_tokens, decode_step, progress)))
    for (int64_t j = 0; j < grid_tokens; ++j) {
      decode_step();
      progress(j);
    }
  // The end marker, from the last hidden state, unrestricted.
  const at::Tensor last = select_tokens(model.logits(hidden).select(1, 0), uniforms.narrow(0, total - 1, 1), options.sampling, 0);
  out.generated.narrow(1, total - 1, 1).copy_(last.view({1, 1}));
  if (options.on_token) options.on_token(total, total);
  cache.advance(grid_tokens);
  return out;
}

}  // namespace glmh
