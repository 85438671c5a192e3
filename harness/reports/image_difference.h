// The amplified difference of two images, for a reader looking for where parity broke: per pixel
// the largest |a - b| over the channels, scaled so the largest difference in the image becomes
// 255, drawn on a black-red-yellow-white ramp (black: identical; white: the largest difference).
#pragma once

#include <ATen/core/Tensor.h>

namespace glmh {

struct AmplifiedDifference {
  at::Tensor image;      // uint8 [H, W, 3]
  int largest = 0;       // the largest |a - b| of any pixel and channel, in 8-bit levels
  double gain = 1;       // 255 / largest (1 when the images are identical)
};

// a, b: uint8 [H, W, 3] of one size; throws std::invalid_argument otherwise.
AmplifiedDifference amplified_difference(const at::Tensor& a, const at::Tensor& b);

}  // namespace glmh
