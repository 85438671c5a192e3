// The safetensors reader and writer: exact round trips of every supported dtype, and a one-line
// error naming the file (and tensor) for every kind of bad input, never a crash.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "pipeline/checkpoint/safetensors.h"
#include "tests/temp_dir.h"

namespace glmh {
namespace {

using testing::TempDir;

std::string write_raw(const std::string& path, const std::string& header, const std::string& data,
                      int64_t claimed_header_len = -1) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = claimed_header_len >= 0 ? uint64_t(claimed_header_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << data;
  return path;
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "accepted; expected an error mentioning '" << needle << "'";
  } catch (const CheckpointError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(Safetensors, RoundTripsEveryDtypeExactly) {
  TempDir dir;
  std::map<std::string, at::Tensor> tensors{
      {"f32", at::randn({3, 5})},
      {"bf16", at::randn({7}).to(at::kBFloat16)},
      {"f16", at::randn({2, 2, 2}).to(at::kHalf)},
      {"i64", at::arange(-5, 5, at::kLong)},
      {"i32", at::arange(12, at::kInt).view({3, 4})},
      {"u8", at::arange(200, at::kByte)},
      {"bool", at::tensor({1, 0, 1}, at::kByte).to(at::kBool)},
      {"scalar", at::scalar_tensor(2.5)},
      {"empty", at::empty({0, 3})},
      {"strided", at::arange(20, at::kFloat).view({4, 5}).t()},
  };
  const std::string path = dir.path() + "/sub/model.safetensors";
  write_safetensors(path, tensors, {{"format", "pt"}});
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->names().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    const at::Tensor back = file->tensor(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back.sizes(), t.sizes()) << name;
    EXPECT_TRUE(at::equal(back, t.contiguous())) << name;
  }
  EXPECT_EQ(file->entry("bf16").dtype, "BF16");
}

TEST(Safetensors, TensorsOutliveTheFileHandle) {
  TempDir dir;
  const std::string path = dir.path() + "/m.safetensors";
  write_safetensors(path, {{"w", at::arange(6, at::kFloat)}});
  at::Tensor w = SafetensorsFile::open(path)->tensor("w");  // the handle is gone after this line
  EXPECT_EQ(w.sum().item<float>(), 15.0f);
}

TEST(Safetensors, BadInputNamesTheFileAndTheProblem) {
  TempDir dir;
  const std::string d = dir.path() + "/";
  expect_error(d + "missing.safetensors", "cannot open");
  {
    std::ofstream(d + "tiny.safetensors") << "abc";
  }
  expect_error(d + "tiny.safetensors", "truncated: 3 bytes");
  expect_error(write_raw(d + "short.safetensors", "{}", "", 500), "truncated: header length 500");
  expect_error(write_raw(d + "huge.safetensors", "{}", "", int64_t(1) << 40), "exceeds the 104857600-byte limit");
  expect_error(write_raw(d + "json.safetensors", "{\"a\": [", ""), "header is not valid JSON");
  expect_error(write_raw(d + "array.safetensors", "[1, 2]", ""), "header is not a JSON object");
  expect_error(write_raw(d + "dtype.safetensors", R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", "x"),
               "tensor 'w': unsupported dtype 'Q4'");
  expect_error(write_raw(d + "bounds.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"),
               "tensor 'w': data_offsets [0, 16] outside the 8-byte data buffer");
  expect_error(write_raw(d + "span.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"),
               "tensor 'w': data_offsets span 8 bytes, but F32 with 3 elements needs 12");
  expect_error(write_raw(d + "neg.safetensors", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234"),
               "tensor 'w': shape has a non-integer or negative dimension");
  // A zero dimension must not hide a huge one: the shape stays representable in int64.
  expect_error(write_raw(d + "zerohuge.safetensors", R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""),
               "tensor 'w': shape overflows");
  expect_error(write_raw(d + "bytes.safetensors", R"({"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})", ""),
               "tensor 'w': shape overflows");
  expect_error(write_raw(d + "overlap.safetensors",
                         R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         "123456789012"),
               "tensor data regions overlap at byte 4");
  expect_error(write_raw(d + "fields.safetensors", R"({"w":{"dtype":"F32"}})", ""),
               "tensor 'w': expected an object with dtype, shape and data_offsets");
  // A missing tensor, asked for by name.
  write_safetensors(d + "ok.safetensors", {{"w", at::ones({1})}});
  try {
    SafetensorsFile::open(d + "ok.safetensors")->tensor("v");
    ADD_FAILURE();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("ok.safetensors': no tensor 'v'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, UnalignedDataIsCopiedNotMisread) {
  TempDir dir;
  // A one-byte tensor first, so the F32 tensor after it starts at an odd offset.
  const std::string header = R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  float one = 1.5f;
  std::string data(1, '\x07');
  data.append(reinterpret_cast<const char*>(&one), 4);
  auto file = SafetensorsFile::open(write_raw(dir.path() + "/u.safetensors", header, data));
  EXPECT_EQ(file->tensor("w").item<float>(), 1.5f);
  EXPECT_EQ(file->tensor("b").item<uint8_t>(), 7);
}

}  // namespace
}  // namespace glmh
