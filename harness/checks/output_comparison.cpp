#include "harness/checks/output_comparison.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "pipeline/checkpoint/safetensors.h"
#include "harness/io/number_text.h"
#include "harness/io/png_image.h"

namespace glmh {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}


}  // namespace

double image_ssim(const at::Tensor& a, const at::Tensor& b) {
  const int64_t size = 11;
  const double sigma = 1.5, c1 = std::pow(0.01 * 255, 2), c2 = std::pow(0.03 * 255, 2);
  if (a.size(0) < size || a.size(1) < size) return std::numeric_limits<double>::quiet_NaN();
  const at::Tensor x = at::arange(size, at::kDouble) - double(size / 2);
  at::Tensor g = at::exp(-(x * x) / (2 * sigma * sigma));
  g = g / g.sum();
  const at::Tensor window = at::outer(g, g).view({1, 1, size, size});
  auto filter = [&](const at::Tensor& t) { return at::conv2d(t, window); };  // valid region
  // Channels as a batch of single-channel images: [C, 1, H, W].
  const at::Tensor p = a.to(at::kDouble).permute({2, 0, 1}).unsqueeze(1);
  const at::Tensor q = b.to(at::kDouble).permute({2, 0, 1}).unsqueeze(1);
  const at::Tensor mu_p = filter(p), mu_q = filter(q);
  const at::Tensor var_p = filter(p * p) - mu_p * mu_p, var_q = filter(q * q) - mu_q * mu_q;
  const at::Tensor cov = filter(p * q) - mu_p * mu_q;
  const at::Tensor map = ((2 * mu_p * mu_q + c1) * (2 * cov + c2)) / ((mu_p * mu_p + mu_q * mu_q + c1) * (var_p + var_q + c2));
  return map.mean().item<double>();
}

namespace {

void fill_metrics(OutputComparison& c, const at::Tensor& a, const at::Tensor& b, double peak) {
  const at::Tensor x = a.to(at::kDouble).reshape({-1}), y = b.to(at::kDouble).reshape({-1});
  const at::Tensor diff = x - y;
  c.max_abs_error = x.numel() ? diff.abs().max().item<double>() : 0.0;
  const double ref_peak = y.numel() ? y.abs().max().item<double>() : 0.0;
  c.relative_max_error = ref_peak > 0 ? c.max_abs_error / ref_peak : (c.max_abs_error == 0 ? 0 : INFINITY);
  const double mse = x.numel() ? diff.pow(2).mean().item<double>() : 0.0;
  const double ref_power = y.numel() ? y.pow(2).mean().item<double>() : 0.0;
  c.nmse = ref_power > 0 ? mse / ref_power : (mse == 0 ? 0 : INFINITY);
  const double norms = (x.norm() * y.norm()).item<double>();
  c.cosine = norms > 0 ? at::dot(x, y).item<double>() / norms : (mse == 0 ? 1.0 : 0.0);
  if (peak < 0) peak = ref_peak;
  c.psnr_db = mse == 0 ? INFINITY : 10.0 * std::log10(peak * peak / mse);
}

}  // namespace

std::string OutputComparison::summary() const {
  std::string s = "max abs " + number_text(max_abs_error, "%.4g") + ", rel " + number_text(relative_max_error, "%.4g") + ", NMSE " +
                  number_text(nmse, "%.4g") + ", cosine " + number_text(cosine, "%.4g") + ", PSNR " +
                  (std::isinf(psnr_db) ? std::string("inf") : number_text(psnr_db, "%.4g") + " dB");
  if (!std::isnan(ssim)) s += ", SSIM " + number_text(ssim, "%.4g");
  return s;
}

OutputComparison compare_files(const std::string& a, const std::string& b) {
  OutputComparison c;
  const bool png = ends_with(a, ".png"), other_png = ends_with(b, ".png");
  if (png != other_png) throw std::invalid_argument(a + " and " + b + ": one is an image, the other is not");
  if (png) {
    const at::Tensor x = read_png(a), y = read_png(b);
    if (x.sizes() != y.sizes())
      throw std::invalid_argument(a + " is " + std::to_string(x.size(1)) + "x" + std::to_string(x.size(0)) + ", " + b +
                                  " is " + std::to_string(y.size(1)) + "x" + std::to_string(y.size(0)));
    c.kind = "image";
    fill_metrics(c, x, y, 255.0);
    c.ssim = image_ssim(x, y);
    return c;
  }
  const auto fa = SafetensorsFile::open(a), fb = SafetensorsFile::open(b);
  if (fa->names() != fb->names()) throw std::invalid_argument(a + " and " + b + " hold different tensor names");
  std::vector<at::Tensor> xs, ys;
  for (const auto& name : fa->names()) {
    const at::Tensor x = fa->tensor(name), y = fb->tensor(name);
    if (x.sizes() != y.sizes()) throw std::invalid_argument(a + ": tensor '" + name + "' has another shape than in " + b);
    xs.push_back(x.to(at::kDouble).reshape({-1}));
    ys.push_back(y.to(at::kDouble).reshape({-1}));
  }
  c.kind = "tensors";
  fill_metrics(c, at::cat(xs), at::cat(ys), -1.0);
  return c;
}

}  // namespace glmh
