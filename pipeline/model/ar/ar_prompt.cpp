#include "pipeline/model/ar/ar_prompt.h"

#include <cmath>
#include <stdexcept>

#include "pipeline/model/ar/bpe_tokenizer.h"

namespace glmh {

namespace {

// The processor's token names (processor/tokenizer_config.json and chat_template.jinja).
const char* const kImageStart = "<|dit_token_16384|>";  // bos_token: also what the AR starts from
const char* const kImageEnd = "<|dit_token_16385|>";
const char* const kImagePlaceholder = "<|image|>";
const char* const kGridStart = "<sop>";  // grid_bos_token
const char* const kGridEnd = "<eop>";    // grid_eos_token

std::string grid_text(int64_t h, int64_t w) {
  return std::string(kGridStart) + std::to_string(h) + " " + std::to_string(w) + kGridEnd;
}

void check_prompt(const std::string& prompt) {
  if (prompt.find(kImagePlaceholder) != std::string::npos)
    throw std::invalid_argument(std::string("the prompt contains the image placeholder ") + kImagePlaceholder +
                                ", which only the processor may insert");
}

ArPrompt tokenized(const BpeTokenizer& tokenizer, std::string text, std::vector<GridThw> grids) {
  // The marker tokens must exist: otherwise they would be encoded as plain text, silently.
  for (const char* token : {kImageStart, kImageEnd, kImagePlaceholder, kGridStart, kGridEnd}) tokenizer.token_id(token);
  ArPrompt p;
  p.input_ids = tokenizer.encode(text);
  p.text = std::move(text);
  p.grids = std::move(grids);
  return p;
}

}  // namespace

TargetShape glm_image_target_shape(int64_t height, int64_t width) {
  if (height < 32 || width < 32)
    throw std::invalid_argument("target size " + std::to_string(height) + " x " + std::to_string(width) +
                                " is below 32 pixels on a side");
  TargetShape s;
  s.token_h = height / 32;
  s.token_w = width / 32;
  // The same double arithmetic and truncation as Python's int(math.sqrt(ratio) * 16).
  const double ratio = double(s.token_h) / double(s.token_w);
  s.preview_h = int64_t(std::sqrt(ratio) * 16);
  s.preview_w = int64_t(std::sqrt(1 / ratio) * 16);
  return s;
}

ArPrompt build_t2i_prompt(const BpeTokenizer& tokenizer, const std::string& prompt, int64_t height, int64_t width) {
  check_prompt(prompt);
  const TargetShape s = glm_image_target_shape(height, width);
  std::string text = prompt + grid_text(s.token_h, s.token_w) + grid_text(s.preview_h, s.preview_w) + kImageStart;
  return tokenized(tokenizer, std::move(text), {{1, s.token_h, s.token_w}, {1, s.preview_h, s.preview_w}});
}

ArPrompt build_i2i_prompt(const BpeTokenizer& tokenizer, const std::string& prompt, int64_t height, int64_t width,
                          const std::vector<GridThw>& source_grids, int64_t merge_size) {
  check_prompt(prompt);
  if (source_grids.empty()) throw std::invalid_argument("image-to-image prompt without a source image");
  if (merge_size < 1) throw std::invalid_argument("merge_size must be positive");
  const TargetShape s = glm_image_target_shape(height, width);
  std::string text;
  std::vector<GridThw> grids;
  for (const GridThw& g : source_grids) {
    const int64_t cells = g[0] * g[1] * g[2];
    if (g[0] < 1 || g[1] < 1 || g[2] < 1 || cells % (merge_size * merge_size) != 0)
      throw std::invalid_argument("source grid (" + std::to_string(g[0]) + ", " + std::to_string(g[1]) + ", " +
                                  std::to_string(g[2]) + ") does not hold whole " + std::to_string(merge_size) + " x " +
                                  std::to_string(merge_size) + " merges");
    text += kImageStart;
    const int64_t placeholders = cells / (merge_size * merge_size);
    text.reserve(text.size() + placeholders * 9 + 64);
    for (int64_t i = 0; i < placeholders; ++i) text += kImagePlaceholder;
    text += kImageEnd;
    grids.push_back(g);
  }
  text += prompt + grid_text(s.token_h, s.token_w) + kImageStart;
  grids.push_back({1, s.token_h, s.token_w});
  return tokenized(tokenizer, std::move(text), std::move(grids));
}

}  // namespace glmh
