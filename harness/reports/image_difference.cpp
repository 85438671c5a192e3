#include "harness/reports/image_difference.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace glmh {

AmplifiedDifference amplified_difference(const at::Tensor& a, const at::Tensor& b) {
  for (const at::Tensor* t : {&a, &b})
    if (t->dim() != 3 || t->size(2) != 3 || t->scalar_type() != at::kByte)
      throw std::invalid_argument("amplified_difference: expected uint8 [H, W, 3] images");
  if (a.sizes() != b.sizes())
    throw std::invalid_argument("amplified_difference: image sizes differ (" + std::to_string(a.size(1)) + "x" +
                                std::to_string(a.size(0)) + " and " + std::to_string(b.size(1)) + "x" +
                                std::to_string(b.size(0)) + ")");
  const at::Tensor per_pixel = (a.cpu().to(at::kShort) - b.cpu().to(at::kShort)).abs().amax({2});
  AmplifiedDifference out;
  out.largest = per_pixel.numel() > 0 ? per_pixel.max().item<int>() : 0;
  out.gain = out.largest > 0 ? 255.0 / out.largest : 1.0;
  // Three times the level walks the ramp: red rises first, then green, then blue.
  const at::Tensor ramp = (per_pixel.to(at::kFloat) * out.gain).round().clamp(0, 255) * 3;
  out.image = at::stack({ramp.clamp(0, 255), (ramp - 255).clamp(0, 255), (ramp - 510).clamp(0, 255)}, 2).to(at::kByte);
  return out;
}

}  // namespace glmh
