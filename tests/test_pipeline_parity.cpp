// The whole text-to-image pipeline against diffusers' GlmImagePipeline + transformers (golden from
// scripts/reference/make_pipeline_golden.py: a tiny random upstream pipeline saved with
// save_pretrained, run with fixed noise and greedy AR): glmh loads the saved directory and runs
// its four stages on the executor; prior tokens identical, glyph embeddings, final latents and the
// decoded image within the parity tolerance, the 8-bit image within one level.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/parity.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/executor/parallel_executor.h"
#include "pipeline/glm_image/glm_image_request.h"
#include "pipeline/glm_image/glm_image_stages.h"
#include "pipeline/runtime/rank_context.h"
#include "tests/thread_ranks.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";

class PipelineParity : public testing::ThreadRanksTest {
 protected:
  // Runs the golden's request through glmh's stages on one rank; returns the final request.
  Request run(const std::function<void(GlmImageParams&)>& change = {}) {
    const auto io = SafetensorsFile::open(kGolden + "/pipeline_tiny_io.safetensors");
    GlmImageParams params;
    params.prompt = "A shop sign that says \"OPEN\" and \u201c" "Cafe\u201d";
    params.height = 64;
    params.width = 96;
    params.steps = 3;
    params.guidance = 1.5;
    params.noise = io->tensor("noise");
    auto models = std::make_shared<GlmImageModels>(ModelSource::open(kGolden + "/pipeline_tiny"), c10::Device(c10::kCPU),
                                                   at::kFloat);
    params.sampling = models->default_sampling();  // the checkpoint's: top-k 1, i.e. greedy
    if (change) change(params);
    Request result;
    const auto outcomes = testing::run_thread_ranks(ParallelLayout::create({}), [&](RankContext& ctx) {
      GlmImageStageSet pipeline = make_glm_image_stages(models);
      Request request = make_glm_image_request(params);
      ParallelExecutor(ctx).execute(pipeline.stages, request);
      result = request;
    });
    EXPECT_EQ(outcomes[0].message(), "");
    return result;
  }
};

TEST_F(PipelineParity, TextToImageMatchesDiffusersStageByStage) {
  const auto io = SafetensorsFile::open(kGolden + "/pipeline_tiny_io.safetensors");
  const Request r = run();
  EXPECT_TRUE(at::equal(r.tensor(field::kPriorTokenId), io->tensor("prior_token_id")));
  testing::expect_parity(r.tensor(field::kGlyphEmbeds), io->tensor("glyph_embeds"), "glyph_embeds");
  testing::expect_parity(r.tensor(field::kGlyphEmbedsUncond), io->tensor("glyph_embeds_uncond"), "glyph_embeds_uncond");
  testing::expect_parity(r.tensor(field::kLatents), io->tensor("latents"), "latents");
  const at::Tensor image = r.tensor(field::kImage), ref = io->tensor("image");
  ASSERT_EQ(image.sizes(), ref.sizes());
  EXPECT_LE((image.to(at::kInt) - ref.to(at::kInt)).abs().max().item<int>(), 1);
  EXPECT_GT((image == ref).to(at::kFloat).mean().item<double>(), 0.99);
}

TEST_F(PipelineParity, TheChecksCatchADroppedCfgBranchAndSampledPriorTokens) {
  const auto io = SafetensorsFile::open(kGolden + "/pipeline_tiny_io.safetensors");
  // Guidance 1 runs the conditional branch only: the latents check sees it.
  const Request no_cfg = run([](GlmImageParams& p) { p.guidance = 1.0; });
  EXPECT_GT(testing::parity_figures(no_cfg.tensor(field::kLatents), io->tensor("latents")).relative_max_error, 1e-3);
  // Sampling over the whole vocabulary instead of the checkpoint's top-k 1: other prior tokens.
  const Request sampled = run([](GlmImageParams& p) {
    p.sampling.top_k = 0;
    p.sampling.top_p = 1.0;
  });
  EXPECT_FALSE(at::equal(sampled.tensor(field::kPriorTokenId), io->tensor("prior_token_id")));
}

TEST_F(PipelineParity, SeededNoiseIsTorchsCpuNormalStream) {
  // Without fixed noise glmh draws it from the seed with a CPU generator, as torch.randn does with
  // torch.Generator().manual_seed(seed): the golden's noise came from seed 42.
  const auto io = SafetensorsFile::open(kGolden + "/pipeline_tiny_io.safetensors");
  const Request r = run([](GlmImageParams& p) {
    p.noise = at::Tensor();
    p.seed = 42;
  });
  testing::expect_parity(r.tensor(field::kLatents), io->tensor("latents"), "latents from seeded noise");
}

}  // namespace
}  // namespace glmh
