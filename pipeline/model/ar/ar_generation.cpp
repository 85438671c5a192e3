#include "ar_generation.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "ar_kv_cache.h"
#include "glm_image_text_model.h"

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
  out.generated = at::empty({1, total}, at::TensorOptions().dtype(at::kLong).device(device));
  at::Tensor hidden = model.hidden_states(input_ids.to(at::kLong), prefill_positions, &cache).narrow(1, prompt_len - 1, 1);
  for (int64_t j = 0; j < total; ++j) {
    const bool in_grid = j + 1 < total;  // the last token is the end marker
    const int64_t allowed = in_grid && options.restrict_grids_to_codebook ? ids.codebook_size : 0;
    const at::Tensor token = select_tokens(model.logits(hidden).select(1, 0), uniforms.narrow(0, j, 1), options.sampling, allowed);
    out.generated.narrow(1, j, 1).copy_(token.view({1, 1}));
    if (options.on_token) options.on_token(j + 1, total);
    if (in_grid) hidden = model.hidden_states(token.view({1, 1}), decode_positions.narrow(2, j, 1), &cache);
  }
  return out;
}

}  // namespace glmh
