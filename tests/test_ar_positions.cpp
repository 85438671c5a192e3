// The AR model's 3-D position ids against transformers' GlmImageModel.get_rope_index
// (golden/reference/rope_index_cases.json from scripts/reference/make_rope_index_golden.py):
// text to image (preview grid decoded before the target grid) and image to image.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/ar/ar_positions.h"

namespace glmh {
namespace {

at::Tensor as_tensor(const nlohmann::json& rows) {
  const auto v = rows.get<std::vector<std::vector<int64_t>>>();
  at::Tensor t = at::empty({int64_t(v.size()), int64_t(v[0].size())}, at::kLong);
  for (size_t r = 0; r < v.size(); ++r)
    for (size_t c = 0; c < v[r].size(); ++c) t[r][c] = v[r][c];
  return t;
}

TEST(ArPositions, MatchTransformersForTextAndImageToImage) {
  const nlohmann::json golden = read_json_file(std::string(GLMH_SOURCE_DIR) + "/golden/reference/rope_index_cases.json");
  for (const auto& c : golden["cases"]) {
    std::vector<GridThw> grids;
    for (const auto& g : c["grids"]) grids.push_back({g[0].get<int64_t>(), g[1].get<int64_t>(), g[2].get<int64_t>()});
    const ArPositions p = glm_image_rope_index(c["input_ids"].get<std::vector<int64_t>>(), grids,
                                               golden["image_start_token_id"], golden["image_end_token_id"]);
    EXPECT_TRUE(at::equal(p.prefill, as_tensor(c["prefill"]))) << c["name"] << "\n" << p.prefill;
    EXPECT_TRUE(at::equal(p.decode, as_tensor(c["decode"]))) << c["name"] << "\n" << p.decode;
  }
}

TEST(ArPositions, DocumentedExample) {
  // docs/model.md#position-ids at 1024 x 1024: preview 16 x 16 at t = L, target 32 x 32 at
  // t = L + 16, the end marker at L + 48.
  const int64_t L = 7;
  std::vector<int64_t> ids(L, 170000);
  ids.back() = 16384;
  const ArPositions p = glm_image_rope_index(ids, {GridThw{1, 32, 32}, GridThw{1, 16, 16}}, 16384, 16385);
  ASSERT_EQ(p.decode.size(1), 256 + 1024 + 1);
  EXPECT_EQ(p.decode[0][0].item<int64_t>(), L);
  EXPECT_EQ(p.decode[0][256].item<int64_t>(), L + 16);
  EXPECT_EQ(p.decode[2][256 + 33].item<int64_t>(), L + 16 + 1);  // target row 1, col 1
  EXPECT_EQ(p.decode[1][256 + 33].item<int64_t>(), L + 16 + 1);
  EXPECT_EQ(p.decode[0][256 + 1024].item<int64_t>(), L + 48);
}

}  // namespace
}  // namespace glmh
