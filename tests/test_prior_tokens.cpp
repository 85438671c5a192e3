// AR output -> DiT prior tokens against diffusers' pipeline helpers
// (golden/reference/prior_tokens_cases.json from scripts/reference/make_prior_tokens_golden.py).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/model/ar/prior_tokens.h"

namespace glmh {
namespace {

TEST(PriorTokens, PlanExtractionAndUpsamplingMatchDiffusers) {
  const nlohmann::json golden = read_json_file(std::string(GLMH_SOURCE_DIR) + "/golden/reference/prior_tokens_cases.json");
  for (const auto& c : golden["cases"]) {
    std::vector<GridThw> grids;
    for (const auto& g : c["grids"]) grids.push_back({g[0].get<int64_t>(), g[1].get<int64_t>(), g[2].get<int64_t>()});
    const GenerationPlan plan = plan_generation(grids, c["text_to_image"]);
    EXPECT_EQ(plan.max_new_tokens, c["max_new_tokens"].get<int64_t>()) << c["name"];
    EXPECT_EQ(plan.target_offset, c["target_offset"].get<int64_t>()) << c["name"];
    EXPECT_EQ(plan.target_h, c["target_h"].get<int64_t>()) << c["name"];
    EXPECT_EQ(plan.target_w, c["target_w"].get<int64_t>()) << c["name"];
    const auto outputs = c["outputs"].get<std::vector<int64_t>>();
    const at::Tensor generated = at::tensor(outputs, at::kLong).narrow(0, c["prompt_len"].get<int64_t>(), plan.max_new_tokens);
    const at::Tensor prior = prior_tokens_from_generated(generated, plan);
    EXPECT_TRUE(at::equal(prior, at::tensor(c["prior_token_ids"].get<std::vector<int64_t>>(), at::kLong).view({1, -1})))
        << c["name"];
  }
}

TEST(PriorTokens, TooFewGeneratedTokensIsAClearError) {
  const GenerationPlan plan = plan_generation({GridThw{1, 4, 6}, GridThw{1, 2, 3}}, true);
  try {
    prior_tokens_from_generated(at::zeros({20}, at::kLong), plan);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "the AR stage generated 20 tokens, fewer than the 30 that reach the end of the target grid");
  }
}

}  // namespace
}  // namespace glmh
