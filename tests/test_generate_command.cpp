// glmh generate and glmh checkpoint init, the programs: the upstream-saved tiny pipeline
// reproduces diffusers' image; a preset written by checkpoint init generates exactly what the
// in-memory preset does; image to image runs; and every bad checkpoint is one line and exit 2.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "harness/io/png_image.h"
#include "tests/parity.h"
#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/process_runner.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

const std::string kGolden = std::string(GLMH_SOURCE_DIR) + "/golden/reference";
const std::string kPrompt = "A shop sign that says \"OPEN\" and \u201c" "Cafe\u201d";

class GenerateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU rank";
  }
  testing::ProcessResult generate(const std::string& model, const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {GLMH_BINARY, "generate", "--model", model, "--prompt", kPrompt, "--height", "64",
                                     "--width", "96", "--steps", "3", "--out", out};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::run_process(argv);
  }
  testing::TempDir dir_;
};

TEST_F(GenerateCommand, TheUpstreamSavedPipelineReproducesDiffusersImage) {
  const std::string out = dir_.path() + "/out";
  const auto r = generate(kGolden + "/pipeline_tiny", out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto io = SafetensorsFile::open(kGolden + "/pipeline_tiny_io.safetensors");
  EXPECT_TRUE(at::equal(SafetensorsFile::open(out + "/prior_tokens.safetensors")->tensor("prior_token_id"),
                        io->tensor("prior_token_id")));
  testing::expect_parity(SafetensorsFile::open(out + "/latents.safetensors")->tensor("latents"), io->tensor("latents"),
                         "latents");
  const at::Tensor image = read_png(out + "/image.png");
  EXPECT_LE((image.to(at::kInt) - io->tensor("image").to(at::kInt)).abs().max().item<int>(), 1);
}

TEST_F(GenerateCommand, AnInitialisedPresetGeneratesWhatTheInMemoryPresetDoes) {
  const std::string ckpt = dir_.path() + "/tiny-3";
  auto r = testing::run_process({GLMH_BINARY, "checkpoint", "init", "--preset", "tiny", "--seed", "3", "--out", ckpt});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = generate(ckpt, dir_.path() + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = generate("tiny", dir_.path() + "/b", {"--model-seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file : {"/latents.safetensors", "/prior_tokens.safetensors"}) {
    const auto a = SafetensorsFile::open(dir_.path() + "/a" + file), b = SafetensorsFile::open(dir_.path() + "/b" + file);
    for (const auto& name : a->names()) EXPECT_TRUE(at::equal(a->tensor(name), b->tensor(name))) << file << " " << name;
  }
  // Another weight seed is another model.
  r = generate("tiny", dir_.path() + "/c", {"--model-seed", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(at::equal(SafetensorsFile::open(dir_.path() + "/b/latents.safetensors")->tensor("latents"),
                         SafetensorsFile::open(dir_.path() + "/c/latents.safetensors")->tensor("latents")));
}

TEST_F(GenerateCommand, ImageToImageUsesTheReference) {
  // 512 x 512: the processor keeps it (then halves it to 16 x 16 tokens), no resize before the VAE.
  at::Tensor ref = (at::arange(512 * 512 * 3, at::kLong).view({512, 512, 3}) * 37 % 251).to(at::kByte);
  write_png(dir_.path() + "/ref.png", ref);
  auto r = generate("tiny", dir_.path() + "/i2i", {"--image", dir_.path() + "/ref.png"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("image to image"), std::string::npos) << r.output;
  r = generate("tiny", dir_.path() + "/t2i");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(at::equal(SafetensorsFile::open(dir_.path() + "/i2i/latents.safetensors")->tensor("latents"),
                         SafetensorsFile::open(dir_.path() + "/t2i/latents.safetensors")->tensor("latents")));
  // The I2I prompt has one grid fewer to generate: only the target grid (2 x 3) and the end marker.
  EXPECT_EQ(SafetensorsFile::open(dir_.path() + "/i2i/prior_tokens.safetensors")->tensor("ar_generated_ids").size(1), 7);
}

// Expects exit 2 and exactly one error line from the rank (the launcher adds its own summary of
// which rank exited how) containing each of `needles`.
void expect_one_line_error(const testing::ProcessResult& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  std::string error_line;
  int error_lines = 0;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (line.find("error") != std::string::npos && line.rfind("[glmh] error: rank 0 exited", 0) != 0) {
      ++error_lines;
      error_line = line;
    }
  EXPECT_EQ(error_lines, 1) << r.output;
  for (const auto& n : needles) EXPECT_NE(error_line.find(n), std::string::npos) << "missing '" << n << "' in: " << r.output;
}

TEST_F(GenerateCommand, EveryBadCheckpointIsOneLineNamingTheFileAndTheTensor) {
  const std::string base = dir_.path() + "/base";
  ASSERT_EQ(testing::run_process({GLMH_BINARY, "checkpoint", "init", "--preset", "tiny", "--out", base}).exit_code, 0);
  auto copy = [&](const std::string& name) {
    const std::string d = dir_.path() + "/" + name;
    EXPECT_EQ(std::system(("cp -r '" + base + "' '" + d + "'").c_str()), 0);
    return d;
  };
  const std::string dit_file = "/transformer/diffusion_pytorch_model.safetensors";
  auto rewrite_dit = [&](const std::string& ckpt, const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
    const auto f = SafetensorsFile::open(ckpt + dit_file);
    std::map<std::string, at::Tensor> tensors;
    for (const auto& name : f->names()) tensors[name] = f->tensor(name).clone();
    edit(tensors);
    write_safetensors(ckpt + dit_file, tensors);
  };
  const std::string out = dir_.path() + "/out";

  const std::string missing = copy("missing-tensor");
  rewrite_dit(missing, [](auto& t) { t.erase("proj_out.weight"); });
  expect_one_line_error(generate(missing, out), {"transformer", "missing tensor 'proj_out.weight'", "expected [64, 128]"});

  const std::string shape = copy("wrong-shape");
  rewrite_dit(shape, [](auto& t) { t["proj_out.weight"] = at::zeros({64, 127}); });
  expect_one_line_error(generate(shape, out), {dit_file, "'proj_out.weight' has shape [64, 127], expected [64, 128]"});

  const std::string truncated = copy("truncated");
  ASSERT_EQ(::truncate((truncated + dit_file).c_str(), 1000), 0);
  expect_one_line_error(generate(truncated, out), {dit_file, "truncated"});

  const std::string no_config = copy("no-config");
  ASSERT_EQ(std::remove((no_config + "/vae/config.json").c_str()), 0);
  expect_one_line_error(generate(no_config, out), {"vae/config.json"});

  const std::string bad_field = copy("bad-field");
  std::ofstream(bad_field + "/transformer/config.json") << R"({"num_layers": -2})";
  expect_one_line_error(generate(bad_field, out), {"transformer/config.json", "num_layers", "positive integer"});

  const std::string no_tokenizer = copy("no-tokenizer");
  ASSERT_EQ(std::remove((no_tokenizer + "/processor/tokenizer.json").c_str()), 0);
  expect_one_line_error(generate(no_tokenizer, out), {"processor/tokenizer.json"});

  expect_one_line_error(generate(dir_.path() + "/nowhere", out), {"nowhere", "neither a preset"});
  // Nothing was written for any of them.
  EXPECT_FALSE(posix_fs::exists(out + "/image.png"));
}

TEST_F(GenerateCommand, BadParametersAreUsageErrors) {
  expect_one_line_error(generate("tiny", dir_.path() + "/o", {"--height", "100"}), {"height must be a positive multiple of 32"});
  expect_one_line_error(generate("tiny", dir_.path() + "/o", {"--image", dir_.path() + "/none.png"}), {"none.png"});
  write_png(dir_.path() + "/small.png", at::zeros({48, 64, 3}, at::kByte));
  expect_one_line_error(generate("tiny", dir_.path() + "/o", {"--image", dir_.path() + "/small.png"}),
                        {"reference_image 64x48", "between 512x512 and 2048x2048"});
  std::ofstream(dir_.path() + "/bad.png") << "not a png";
  expect_one_line_error(generate("tiny", dir_.path() + "/o", {"--image", dir_.path() + "/bad.png"}), {"bad.png"});
  expect_one_line_error(testing::run_process({GLMH_BINARY, "checkpoint", "init", "--preset", "huge", "--out", dir_.path() + "/x"}),
                        {"unknown preset 'huge'"});
}

TEST_F(GenerateCommand, ACacheProfileCachesTheMiddleBlocksAndRecordsItsDecisions) {
  // Threshold >= 1 caches every step after the warmup (cache-dit's rule), so the image changes.
  const std::string plain = dir_.path() + "/plain", cached = dir_.path() + "/cached";
  ASSERT_EQ(generate("tiny", plain).exit_code, 0);
  const auto r = generate("tiny", cached, {"--cache", "cache-dit@1.5.3:DBCache_F1B0_W2I1M0MC0_R1.0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 of 6 DiT calls served from the cache"), std::string::npos) << r.output;
  const at::Tensor hits = SafetensorsFile::open(cached + "/cache_hits.safetensors")->tensor("cache_hits");
  EXPECT_TRUE(at::equal(hits, at::tensor({0, 0, 1, 0, 0, 1}, at::kLong).view({2, 3}))) << hits;
  EXPECT_FALSE(at::equal(SafetensorsFile::open(cached + "/latents.safetensors")->tensor("latents"),
                         SafetensorsFile::open(plain + "/latents.safetensors")->tensor("latents")));
  expect_one_line_error(generate("tiny", dir_.path() + "/o", {"--cache", "DBCache_F1B0"}), {"--cache", "DBCache_F1B0"});
}

}  // namespace
}  // namespace glmh
