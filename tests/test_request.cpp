// Request: typed fields, exact serialisation round trip of every field type, the generator's
// full state, rank-local fields and the field-by-field comparison.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include <limits>

#include "pipeline/checkpoint/safetensors.h"
#include "pipeline/executor/request.h"

namespace glmh {
namespace {

const c10::Device kCpu(c10::kCPU);

Request every_field_type() {
  Request r;
  at::Generator g = Request::make_generator(kCpu, 7);
  r.set_tensor("f32", at::randn({3, 4}, g));
  r.set_tensor("bf16", at::randn({5}, g).to(at::kBFloat16));
  r.set_tensor("f16", at::randn({2, 2}, g).to(at::kHalf));
  r.set_tensor("f64", at::tensor({1.0, std::numeric_limits<double>::quiet_NaN(), -0.0}));
  r.set_tensor("i64", at::arange(10, at::kLong));
  r.set_tensor("i32", at::arange(6, at::kInt).view({2, 3}));
  r.set_tensor("u8", at::randint(256, {7}, g, at::kByte));
  r.set_tensor("bool", at::tensor({1, 0, 1}, at::kByte).to(at::kBool));
  r.set_tensor("scalar", at::scalar_tensor(3.5));
  r.set_tensor("empty", at::empty({0, 4}));
  // A strided view: must arrive with the same values, without its base storage.
  r.set_tensor("strided", at::arange(24, at::kFloat).view({4, 6}).t().narrow(0, 1, 3));
  r.set_tensor("local", at::ones({2}), FieldScope::RankLocal);
  r.set_int("int", -(int64_t(1) << 40));
  r.set_double("double", 0.1 + 0.2);
  r.set_bool("flag", true);
  r.set_string("prompt", "A \"quoted\" sign: 'GLM' — 图像 \xF0\x9F\x8E\xA8");
  r.set_string("bytes", std::string("a\0b\xff", 4));
  r.set_generator(std::move(g));
  r.add_timing("ar", 1.25);
  r.add_timing("denoise", 3.5e-3);
  return r;
}

TEST(Request, RoundTripsEveryFieldTypeExactly) {
  Request original = every_field_type();
  const std::string bytes = original.serialize();
  Request copy = Request::deserialize(bytes, kCpu);
  EXPECT_EQ(copy.differences(original, /*compare_timings=*/true), std::vector<std::string>{});
  EXPECT_EQ(copy.field_names(), original.field_names());
  EXPECT_EQ(copy.get_int("int"), -(int64_t(1) << 40));
  EXPECT_EQ(copy.get_double("double"), 0.1 + 0.2);
  EXPECT_EQ(copy.get_string("bytes"), std::string("a\0b\xff", 4));
  EXPECT_EQ(copy.tensor("bf16").scalar_type(), at::kBFloat16);
  EXPECT_EQ(copy.tensor("strided").sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(at::equal(copy.tensor("strided"), original.tensor("strided")));
  EXPECT_EQ(copy.scope("local"), FieldScope::RankLocal);
  ASSERT_EQ(copy.timings().size(), 2u);
  EXPECT_EQ(copy.timings()[1].stage, "denoise");
  EXPECT_EQ(copy.timings()[1].seconds, 3.5e-3);
  // Serialising the copy gives the same bytes: nothing was lost or reordered.
  EXPECT_EQ(copy.serialize(), bytes);
}

TEST(Request, AViewTravelsWithoutItsBaseStorage) {
  Request small, view;
  small.set_tensor("x", at::arange(16, at::kFloat));
  const at::Tensor base = at::zeros({1 << 20});  // 4 MiB
  view.set_tensor("x", base.narrow(0, 1000, 16));  // contiguous, but a window into the base
  EXPECT_LT(view.serialize().size(), small.serialize().size() + 1024);
}

TEST(Request, GeneratorStateTravelsNotJustTheSeed) {
  Request r;
  r.set_generator(Request::make_generator(kCpu, 1234));
  at::randn({1000}, r.generator());  // advance the stream well past its seed
  Request copy = Request::deserialize(r.serialize(), kCpu);
  const at::Tensor next_original = at::randn({16}, r.generator());
  const at::Tensor next_copy = at::randn({16}, copy.generator());
  EXPECT_TRUE(at::equal(next_original, next_copy));
  // A generator re-seeded with the same seed would start over instead.
  at::Generator reseeded = Request::make_generator(kCpu, 1234);
  EXPECT_FALSE(at::equal(next_original, at::randn({16}, reseeded)));
}

TEST(Request, DifferencesNameTheField) {
  Request a = every_field_type();
  Request b = Request::deserialize(a.serialize(), kCpu);
  at::Tensor t = b.tensor("i64").clone();
  t[3] = 99;
  b.set_tensor("i64", t);
  b.set_string("prompt", "other");
  b.erase("flag");
  at::randn({1}, b.generator());
  const auto diff = a.differences(b);
  ASSERT_EQ(diff.size(), 4u) << ::testing::PrintToString(diff);
  EXPECT_NE(diff[0].find("field 'flag' missing"), std::string::npos) << diff[0];
  EXPECT_NE(diff[1].find("field 'i64': Long[10]"), std::string::npos) << diff[1];
  EXPECT_NE(diff[1].find("1 of 10 elements differ"), std::string::npos) << diff[1];
  EXPECT_NE(diff[2].find("field 'prompt' differs"), std::string::npos) << diff[2];
  EXPECT_EQ(diff[3], "generator state differs");
}

TEST(Request, RankLocalFieldsCanBeLeftOut) {
  Request r;
  r.set_int("shared", 1);
  r.set_tensor("mine", at::ones({2}), FieldScope::RankLocal);
  const Request copy = Request::deserialize(r.serialize(/*include_rank_local=*/false), kCpu);
  EXPECT_TRUE(copy.has("shared"));
  EXPECT_FALSE(copy.has("mine"));
}

TEST(Request, NanAndSignedZeroCompareBitwise) {
  Request a, b;
  a.set_tensor("x", at::tensor({std::numeric_limits<double>::quiet_NaN()}));
  b.set_tensor("x", at::tensor({std::numeric_limits<double>::quiet_NaN()}));
  EXPECT_TRUE(a.differences(b).empty());
  a.set_tensor("x", at::tensor({0.0}));
  b.set_tensor("x", at::tensor({-0.0}));
  EXPECT_FALSE(a.differences(b).empty());
  Request c, d;
  c.set_double("g", std::numeric_limits<double>::quiet_NaN());
  d = Request::deserialize(c.serialize(), kCpu);
  EXPECT_TRUE(c.differences(d).empty());
}

TEST(Request, AdoptSharedKeepsRankLocalFields) {
  Request mine;
  mine.set_tensor("band", at::full({2}, 5.0), FieldScope::RankLocal);
  mine.set_int("steps", 1);
  Request theirs;
  theirs.set_int("steps", 50);
  theirs.set_tensor("band", at::zeros({2}), FieldScope::RankLocal);
  theirs.set_string("prompt", "p");
  mine.adopt_shared(theirs);
  EXPECT_EQ(mine.get_int("steps"), 50);
  EXPECT_EQ(mine.get_string("prompt"), "p");
  EXPECT_TRUE(at::equal(mine.tensor("band"), at::full({2}, 5.0)));
}

TEST(Request, TypedAccessErrorsNameTheField) {
  Request r;
  r.set_int("steps", 3);
  try {
    r.tensor("steps");
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_STREQ(e.what(), "request field 'steps' holds int, expected tensor");
  }
  try {
    r.get_string("missing");
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_STREQ(e.what(), "request has no field 'missing'");
  }
  EXPECT_THROW(r.set_tensor("undefined", at::Tensor()), RequestError);
}

TEST(Request, GarbageBytesGiveAClearError) {
  EXPECT_THROW(Request::deserialize("not a serialised request", kCpu), RequestError);
  const std::string good = every_field_type().serialize();
  EXPECT_THROW(Request::deserialize(good.substr(0, good.size() / 2), kCpu), RequestError);
  // A well-formed image without a request document, or with another version of it.
  EXPECT_THROW(Request::deserialize(safetensors_bytes({{"x", at::ones({2})}}), kCpu), RequestError);
  EXPECT_THROW(Request::deserialize(safetensors_bytes({}, {{"glmh_request", R"({"version": 1})"}}), kCpu), RequestError);
  try {
    Request::deserialize(
        safetensors_bytes({}, {{"glmh_request", R"({"version": 2, "fields": [{"name": "a", "kind": "complex", "scope": "shared"}], "timings": []})"}}),
        kCpu);
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_STREQ(e.what(), "serialised request: field 'a' has the unknown kind 'complex'");
  }
}

TEST(Request, NanDoublesAndNonUtf8StringsRoundTripExactly) {
  Request r;
  r.set_double("nan", std::nan("0x7"));
  r.set_double("neg_zero", -0.0);
  r.set_string("bytes", std::string("\xff\x00\xfe", 3));
  const Request back = Request::deserialize(r.serialize(), kCpu);
  EXPECT_TRUE(back.differences(r).empty());
  EXPECT_TRUE(std::signbit(back.get_double("neg_zero")));
  EXPECT_EQ(back.get_string("bytes"), std::string("\xff\x00\xfe", 3));
}

}  // namespace
}  // namespace glmh
