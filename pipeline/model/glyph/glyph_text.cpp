#include "pipeline/model/glyph/glyph_text.h"

#include <ATen/ATen.h>

#include "pipeline/model/glyph/t5_encoder.h"

namespace glmh {

namespace {

// findall of open([^excluded]*)close, where the delimiters are whole UTF-8 sequences and the
// content may not contain any of `excluded`. UTF-8 is self-synchronising, so byte search finds
// code points only at code point boundaries.
void find_all(const std::string& s, const std::string& open, const std::string& close,
              const std::vector<std::string>& excluded, std::vector<std::string>& out) {
  size_t pos = 0;
  while ((pos = s.find(open, pos)) != std::string::npos) {
    const size_t start = pos + open.size();
    size_t end = std::string::npos;
    for (size_t i = start; i < s.size();) {
      if (s.compare(i, close.size(), close) == 0) {
        end = i;
        break;
      }
      bool blocked = false;
      for (const auto& x : excluded) blocked = blocked || s.compare(i, x.size(), x) == 0;
      if (blocked) break;
      ++i;
    }
    if (end == std::string::npos) {
      pos += open.size();  // no match here: the regex retries from the next position
      continue;
    }
    out.push_back(s.substr(start, end - start));
    pos = end + close.size();
  }
}

}  // namespace

std::vector<std::string> extract_glyph_texts(const std::string& prompt) {
  const std::string left = "\xE2\x80\x9C", right = "\xE2\x80\x9D";       // “ ”
  const std::string corner_l = "\xE3\x80\x8C", corner_r = "\xE3\x80\x8D";  // 「 」
  std::vector<std::string> out;
  find_all(prompt, "'", "'", {"'"}, out);
  find_all(prompt, left, right, {left, right}, out);
  find_all(prompt, "\"", "\"", {"\""}, out);
  find_all(prompt, corner_l, corner_r, {corner_l, corner_r}, out);
  return out;
}

GlyphBatch byt5_glyph_batch(const std::vector<std::string>& given, int64_t max_length) {
  constexpr int64_t kPad = 0, kEos = 1, kOffset = 3;
  const std::vector<std::string> texts = given.empty() ? std::vector<std::string>{""} : given;
  const int64_t lead_pad = (texts.size() + 1) % 2;  // one pad in front when the count is even
  std::vector<std::vector<int64_t>> rows;
  size_t longest = 0;
  for (const auto& text : texts) {
    std::vector<int64_t> row(lead_pad, kPad);
    const size_t bytes = std::min<size_t>(text.size(), size_t(std::max<int64_t>(max_length - 1, 0)));
    for (size_t i = 0; i < bytes; ++i) row.push_back(int64_t(static_cast<unsigned char>(text[i])) + kOffset);
    row.push_back(kEos);
    longest = std::max(longest, row.size());
    rows.push_back(std::move(row));
  }
  GlyphBatch b;
  b.input_ids = at::zeros({int64_t(rows.size()), int64_t(longest)}, at::kLong);
  b.attention_mask = at::zeros({int64_t(rows.size()), int64_t(longest)}, at::kLong);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t i = 0; i < rows[r].size(); ++i) {
      b.input_ids[r][i] = rows[r][i];
      b.attention_mask[r][i] = 1;
    }
  return b;
}

at::Tensor glyph_embeddings(const T5Encoder& encoder, const std::string& prompt, int64_t max_length) {
  const GlyphBatch b = byt5_glyph_batch(extract_glyph_texts(prompt), max_length);
  const c10::Device device = encoder.device();
  const at::Tensor mask = b.attention_mask.to(device);
  const at::Tensor states = encoder.forward(b.input_ids.to(device), mask);
  return states.index({mask.to(at::kBool)}).unsqueeze(0);
}

}  // namespace glmh
