// The parity criterion of issue 3 for one output against its upstream reference: fp32 max abs
// error <= 1e-4 x max|reference| and cosine similarity >= 0.99999.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace glmh::testing {

struct ParityFigures {
  double relative_max_error;
  double cosine;
};

inline ParityFigures parity_figures(const at::Tensor& out, const at::Tensor& ref) {
  const at::Tensor a = out.to(at::kDouble).reshape({-1}), b = ref.to(at::kDouble).reshape({-1});
  return {((a - b).abs().max() / b.abs().max()).item<double>(),
          (at::dot(a, b) / (a.norm() * b.norm())).item<double>()};
}

inline void expect_parity(const at::Tensor& out, const at::Tensor& ref, const std::string& what) {
  ASSERT_EQ(out.sizes(), ref.sizes()) << what;
  const ParityFigures f = parity_figures(out, ref);
  EXPECT_LE(f.relative_max_error, 1e-4) << what << ": max |out - ref| / max |ref| = " << f.relative_max_error;
  EXPECT_GE(f.cosine, 0.99999) << what << ": cosine " << f.cosine;
  char text[64];
  std::snprintf(text, sizeof text, "%.2g / %.8f", f.relative_max_error, f.cosine);
  ::testing::Test::RecordProperty(what + ".error_and_cosine", text);
}

}  // namespace glmh::testing
