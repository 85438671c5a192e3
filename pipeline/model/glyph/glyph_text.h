// From a prompt to the glyph encoder's input (docs/model.md#glyph-text): the quoted strings, their
// ByT5 byte ids, and the concatenated states of every valid token.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace glmh {

class T5Encoder;

// Upstream's four patterns, each findall'd left to right and concatenated in this order:
// '...' (ASCII single), “...” (U+201C/U+201D), "..." (ASCII double), 「...」. Empty matches count.
std::vector<std::string> extract_glyph_texts(const std::string& prompt);

struct GlyphBatch {
  at::Tensor input_ids;       // [n, L] int64, right-padded with 0
  at::Tensor attention_mask;  // [n, L] int64
};

// ByT5 ids of `texts` (each UTF-8 byte + 3, then EOS 1; truncated to max_length with EOS kept);
// no texts means one empty string. Upstream's quirk: when the number of strings is even, every
// string gets one pad id (0) prepended, and that pad counts as a valid token.
GlyphBatch byt5_glyph_batch(const std::vector<std::string>& texts, int64_t max_length);

// [1, Lg, d_model]: the encoder states of every valid token of every string, concatenated.
at::Tensor glyph_embeddings(const T5Encoder& encoder, const std::string& prompt, int64_t max_length);

}  // namespace glmh
