// A checkpoint component in the Hugging Face layout: single-file and sharded round trips, and a
// one-line error naming the file and tensor for each inconsistency.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/runtime/posix_fs.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

using testing::TempDir;

std::map<std::string, at::Tensor> some_weights() {
  return {{"a.weight", at::randn({64, 32}).to(at::kBFloat16)},
          {"b.weight", at::randn({128})},
          {"c.bias", at::arange(10, at::kLong)}};
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ComponentCheckpoint, SingleFileRoundTrip) {
  TempDir dir;
  const auto w = some_weights();
  write_component(dir.path() + "/vae", {{"latent_channels", 16}}, w, "diffusion_pytorch_model");
  EXPECT_TRUE(posix_fs::exists(dir.path() + "/vae/diffusion_pytorch_model.safetensors"));
  const auto c = ComponentCheckpoint::open(dir.path() + "/vae");
  EXPECT_EQ(c.config()["latent_channels"], 16);
  EXPECT_EQ(c.names().size(), 3u);
  EXPECT_TRUE(at::equal(c.tensor("a.weight", {64, 32}, at::kBFloat16), w.at("a.weight")));
}

TEST(ComponentCheckpoint, ShardedRoundTripThroughTheIndex) {
  TempDir dir;
  const auto w = some_weights();
  write_component(dir.path() + "/transformer", {{"num_layers", 2}}, w, "diffusion_pytorch_model", 1024);
  const auto files = posix_fs::list_directory(dir.path() + "/transformer");
  // a.weight (4096 bytes) alone, then b.weight + c.bias (592 bytes) under the 1024-byte limit.
  EXPECT_EQ(files, (std::vector<std::string>{"config.json", "diffusion_pytorch_model-00001-of-00002.safetensors",
                                             "diffusion_pytorch_model-00002-of-00002.safetensors",
                                             "diffusion_pytorch_model.safetensors.index.json"}));
  const auto c = ComponentCheckpoint::open(dir.path() + "/transformer");
  for (const auto& [name, t] : w) EXPECT_TRUE(at::equal(c.tensor(name, t.sizes().vec()), t)) << name;
  EXPECT_NE(c.file_of("c.bias").find("00002-of-00002"), std::string::npos);
}

TEST(ComponentCheckpoint, ErrorsNameTheFileTheTensorAndTheExpectation) {
  TempDir dir;
  const std::string d = dir.path() + "/t";
  write_component(d, {{"x", 1}}, some_weights(), "model", 1024);
  const auto c = ComponentCheckpoint::open(d);
  expect_error([&] { c.tensor("a.weight", {32, 64}); }, "tensor 'a.weight' has shape [64, 32], expected [32, 64]");
  expect_error([&] { c.tensor("b.weight", {128}, at::kBFloat16); }, "tensor 'b.weight' has dtype F32, expected BF16");
  expect_error([&] { c.tensor("missing", {1}); }, "missing tensor 'missing' (expected [1])");

  // An index that maps a tensor to a shard that is not there, or that lacks it.
  std::ofstream(d + "/model.safetensors.index.json")
      << R"({"weight_map": {"a.weight": "model-00009-of-00009.safetensors"}})";
  expect_error([&] { ComponentCheckpoint::open(d); }, "tensor 'a.weight' maps to missing file 'model-00009-of-00009.safetensors'");
  std::ofstream(d + "/model.safetensors.index.json") << R"({"weight_map": {"zz": "model-00001-of-00002.safetensors"}})";
  expect_error([&] { ComponentCheckpoint::open(d); }, "tensor 'zz' is not in 'model-00001-of-00002.safetensors'");
  // An index may only name shard files in its own folder.
  for (const char* shard : {"../t/model-00001-of-00002.safetensors", "/etc/passwd.safetensors", "model.bin", ".safetensors"}) {
    std::ofstream(d + "/model.safetensors.index.json") << nlohmann::json{{"weight_map", {{"a.weight", shard}}}}.dump();
    expect_error([&] { ComponentCheckpoint::open(d); }, "not a *.safetensors file name in the index's folder");
  }
  std::ofstream(d + "/model.safetensors.index.json") << R"({"weight_map": ["a.weight"]})";
  expect_error([&] { ComponentCheckpoint::open(d); }, "no weight_map object");
  std::ofstream(d + "/config.json") << "{ not json";
  expect_error([&] { ComponentCheckpoint::open(d); }, "config.json' is not valid JSON");
  expect_error([&] { ComponentCheckpoint::open(dir.path() + "/nowhere"); }, "is not a directory");
}

}  // namespace
}  // namespace glmh
