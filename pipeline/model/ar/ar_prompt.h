// The AR model's prompt, as diffusers' GlmImagePipeline builds it through transformers'
// GlmImageProcessor (apply_chat_template with target_h / target_w, tokenize=True).
//
// GLM-Image's chat template has no role tags: each image item becomes
// <|dit_token_16384|><|image|><|dit_token_16385|> and each text item is copied verbatim; the
// pipeline puts the source images (image to image) before the text. The processor then expands
// every <|image|> to t*h*w / merge_size^2 copies (merge_size 1 in GLM-Image's preprocessor
// config) and appends the target shape:
//   text to image:  {prompt}<sop>{H/32} {W/32}<eop><sop>{ph} {pw}<eop><|dit_token_16384|>
//   image to image: {sources}{prompt}<sop>{H/32} {W/32}<eop><|dit_token_16384|>
// H and W are floored to multiples of 32; the preview grid (ph, pw) has about 16 x 16 tokens at
// the target's aspect ratio. No BOS is added: the tokenizer's post-processor adds nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/model/ar/ar_positions.h"  // GridThw

namespace glmh {

class BpeTokenizer;

// transformers GlmImageProcessor._get_target_shape: the d32 target grid and the preview grid.
struct TargetShape {
  int64_t token_h = 0, token_w = 0;      // floor(H / 32), floor(W / 32)
  int64_t preview_h = 0, preview_w = 0;  // int(sqrt(token_h / token_w) * 16), int(sqrt(token_w / token_h) * 16)
};
// std::invalid_argument when a side is below 32 pixels (upstream divides by zero there).
TargetShape glm_image_target_shape(int64_t height, int64_t width);

struct ArPrompt {
  std::string text;                // what the tokenizer encodes (placeholders expanded)
  std::vector<int64_t> input_ids;  // no padding, batch of one
  std::vector<GridThw> grids;      // image_grid_thw: source grids, then target (then preview, T2I)
};

// std::invalid_argument when the prompt itself contains <|image|> (the processor refuses it too).
ArPrompt build_t2i_prompt(const BpeTokenizer& tokenizer, const std::string& prompt, int64_t height, int64_t width);
ArPrompt build_i2i_prompt(const BpeTokenizer& tokenizer, const std::string& prompt, int64_t height, int64_t width,
                          const std::vector<GridThw>& source_grids, int64_t merge_size = 1);

}  // namespace glmh
