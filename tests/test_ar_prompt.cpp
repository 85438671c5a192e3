// The AR prompt against transformers' GlmImageProcessor as diffusers' pipeline calls it
// (golden/reference/ar_prompt_cases.json from scripts/reference/make_ar_prompt_golden.py, with the
// tiny tokenizer of make_tokenizer_golden.py): text, input_ids and image_grid_thw for text to image
// at eight sizes (two not multiples of 32) and image to image with one and two sources.
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/model/ar/ar_prompt.h"
#include "pipeline/model/ar/bpe_tokenizer.h"

namespace glmh {
namespace {

using nlohmann::json;

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference/";

const json& golden() {
  static const json g = read_json_file(kGolden + "ar_prompt_cases.json");
  return g;
}

const BpeTokenizer& tokenizer() {
  static const BpeTokenizer t = BpeTokenizer::load(kGolden + "tokenizer_tiny/tokenizer.json");
  return t;
}

std::vector<GridThw> grids_of(const json& rows) {
  std::vector<GridThw> grids;
  for (const auto& g : rows) grids.push_back({g[0].get<int64_t>(), g[1].get<int64_t>(), g[2].get<int64_t>()});
  return grids;
}

ArPrompt build(const json& c, int64_t height, int64_t width, int64_t merge_size) {
  if (c["mode"] == "t2i") return build_t2i_prompt(tokenizer(), c["prompt"], height, width);
  return build_i2i_prompt(tokenizer(), c["prompt"], height, width, grids_of(c["source_grids"]), merge_size);
}

bool matches(const ArPrompt& p, const json& c) {
  return p.text == c["text"].get<std::string>() && p.input_ids == c["input_ids"].get<std::vector<int64_t>>() &&
         p.grids == grids_of(c["image_grid_thw"]);
}

TEST(ArPrompt, MatchesTheProcessorForEveryCase) {
  for (const auto& c : golden()["cases"]) {
    const ArPrompt p = build(c, c["height"], c["width"], c["merge_size"]);
    EXPECT_EQ(p.text, c["text"].get<std::string>()) << c["name"];
    EXPECT_EQ(p.input_ids, c["input_ids"].get<std::vector<int64_t>>()) << c["name"];
    EXPECT_EQ(p.grids, grids_of(c["image_grid_thw"])) << c["name"];
    // images_per_sample counts every grid of the sample, sources and targets.
    EXPECT_EQ(int64_t(p.grids.size()), c["images_per_sample"][0].get<int64_t>()) << c["name"];
  }
}

TEST(ArPrompt, GoldenComparisonCatchesWrongPrompts) {
  // Height and width swapped, the I2I merge size wrong, or one pixel less (crossing a multiple
  // of 32): each must fail the comparison wherever it changes anything.
  int swapped = 0, merged = 0, shrunk = 0, total = 0;
  for (const auto& c : golden()["cases"]) {
    const int64_t h = c["height"], w = c["width"], m = c["merge_size"];
    ++total;
    if (h != w) swapped += !matches(build(c, w, h, m), c);
    else swapped += 1;  // nothing to swap
    if (c["mode"] == "i2i") merged += !matches(build(c, h, w, m == 1 ? 2 : 1), c);
    shrunk += !matches(build(c, h - 1, w, m), c);
  }
  EXPECT_EQ(swapped, total);
  EXPECT_EQ(merged, 3);
  EXPECT_GE(shrunk, total - 2);  // the two sizes that are not multiples of 32 floor to the same grid
}

TEST(ArPrompt, TargetShapesOfTheDesignTable) {
  // docs/model.md#grid-sizes: target and preview grids.
  struct Row {
    int64_t h, w, th, tw, ph, pw;
  };
  for (const Row r : {Row{512, 512, 16, 16, 16, 16}, Row{1024, 1024, 32, 32, 16, 16}, Row{1024, 1152, 32, 36, 15, 16},
                      Row{2048, 2048, 64, 64, 16, 16}, Row{1000, 1000, 31, 31, 16, 16}}) {
    const TargetShape s = glm_image_target_shape(r.h, r.w);
    EXPECT_EQ(s.token_h, r.th);
    EXPECT_EQ(s.token_w, r.tw);
    EXPECT_EQ(s.preview_h, r.ph) << r.h << "x" << r.w;
    EXPECT_EQ(s.preview_w, r.pw) << r.h << "x" << r.w;
  }
}

TEST(ArPrompt, BadRequestsAreRefused) {
  EXPECT_THROW(build_t2i_prompt(tokenizer(), "a cat", 16, 512), std::invalid_argument);
  EXPECT_THROW(build_t2i_prompt(tokenizer(), "a <|image|> cat", 512, 512), std::invalid_argument);
  EXPECT_THROW(build_i2i_prompt(tokenizer(), "a cat", 512, 512, {}), std::invalid_argument);
  EXPECT_THROW(build_i2i_prompt(tokenizer(), "a cat", 512, 512, {{1, 3, 3}}, 2), std::invalid_argument);
  // A tokenizer without the grid markers would encode "<sop>" as plain text: refused instead.
  const BpeTokenizer no_markers = BpeTokenizer::from_json(
      byte_level_tokenizer_json({"<|dit_token_16384|>", "<|dit_token_16385|>", "<|image|>"}, 0, 3), "no-markers.json");
  try {
    build_t2i_prompt(no_markers, "a cat", 512, 512);
    ADD_FAILURE() << "nothing thrown";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("<sop>"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no-markers.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glmh
