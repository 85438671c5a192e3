// The glyph path against diffusers + transformers (golden/reference/glyph_cases.json and
// glyph_tiny_io.safetensors from scripts/reference/make_glyph_golden.py): quoted-text extraction
// in upstream's order, ByT5 ids with the even-count pad quirk, and the concatenated states.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/glyph/glyph_text.h"
#include "tests/parity.h"
#include "pipeline/model/glyph/t5_encoder.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

TEST(GlyphParity, ExtractionIdsAndEmbeddingsMatchUpstream) {
  const nlohmann::json cases = read_json_file(kGolden + "/glyph_cases.json")["cases"];
  const auto io = SafetensorsFile::open(kGolden + "/glyph_tiny_io.safetensors");
  const T5Encoder t5 = T5Encoder::load(ComponentCheckpoint::open(kGolden + "/t5_tiny"), c10::Device(c10::kCPU), at::kFloat);
  ASSERT_EQ(cases.size(), 5u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string prompt = cases[i]["prompt"];
    const std::string key = "case" + std::to_string(i) + ".";
    EXPECT_EQ(extract_glyph_texts(prompt), cases[i]["glyph_texts"].get<std::vector<std::string>>()) << prompt;
    const GlyphBatch b = byt5_glyph_batch(extract_glyph_texts(prompt), 2048);
    EXPECT_TRUE(at::equal(b.input_ids, io->tensor(key + "input_ids"))) << prompt;
    EXPECT_TRUE(at::equal(b.attention_mask, io->tensor(key + "attention_mask"))) << prompt;
    const at::Tensor ref = io->tensor(key + "glyph_embeds");
    const at::Tensor out = glyph_embeddings(t5, prompt, 2048);
    testing::expect_parity(out, ref, "glyph_embeds of '" + prompt + "'");
  }
}

TEST(GlyphText, TruncationKeepsTheEos) {
  // transformers: ByT5Tokenizer()(["abcdef"], max_length=4, truncation=True) -> [[100, 101, 102, 1]]
  const GlyphBatch b = byt5_glyph_batch({"abcdef"}, 4);
  EXPECT_TRUE(at::equal(b.input_ids, at::tensor({int64_t('a') + 3, int64_t('b') + 3, int64_t('c') + 3, int64_t(1)}).view({1, 4})));
}

}  // namespace
}  // namespace glmh
