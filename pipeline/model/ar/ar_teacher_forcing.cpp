#include "pipeline/model/ar/ar_teacher_forcing.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/glm_image_text_model.h"

namespace glmh {

at::Tensor teacher_forced_logits(const GlmImageTextModel& model, const GlmImageTokenIds& ids,
                                 const at::Tensor& input_ids, const std::vector<GridThw>& grids,
                                 const at::Tensor& generated, int64_t count) {
  const at::Tensor prompt_cpu = input_ids.to(at::kCPU, at::kLong).contiguous().view({-1});
  const std::vector<int64_t> prompt(prompt_cpu.data_ptr<int64_t>(), prompt_cpu.data_ptr<int64_t>() + prompt_cpu.numel());
  const ArPositions positions = glm_image_rope_index(prompt, grids, ids.image_start_token_id, ids.image_end_token_id);
  const c10::Device device = input_ids.device();
  const at::Tensor tokens = generated.reshape({1, -1}).to(device, at::kLong);
  const int64_t total = positions.decode.size(1);
  if (tokens.size(1) != total)
    throw std::invalid_argument("teacher forcing: " + std::to_string(tokens.size(1)) + " generated tokens, the grids make " +
                                std::to_string(total));
  if (count < 1 || count > total) throw std::invalid_argument("teacher forcing: count out of range");
  const int64_t prompt_len = int64_t(prompt.size());
  // As generate_image_tokens: a cache for every token, the prefill, then one decode per token.
  ArKvCache cache(model.config(), 1, prompt_len + total, device, model.dtype());
  const at::Tensor decode_positions = positions.decode.unsqueeze(1).to(device);
  at::Tensor hidden = model.hidden_states(input_ids.to(at::kLong), positions.prefill.unsqueeze(1).to(device), &cache)
                          .narrow(1, prompt_len - 1, 1)
                          .contiguous();
  std::vector<at::Tensor> rows;
  rows.reserve(size_t(count));
  const auto index = at::TensorOptions().dtype(at::kLong).device(device);
  for (int64_t j = 0; j < count; ++j) {
    rows.push_back(model.logits(hidden).select(1, 0).to(at::kFloat));
    if (j + 1 == count) break;
    const at::Tensor step = at::full({1}, j, index);
    hidden.copy_(model.hidden_states(tokens.narrow(1, j, 1), decode_positions.index_select(2, step), &cache,
                                     step + prompt_len));
  }
  return at::cat(rows, 0);
}

}  // namespace glmh
