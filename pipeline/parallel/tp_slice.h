// The one slicing rule of tensor parallelism: rank r of `size` keeps the r-th equal block of a
// dimension. Throws std::invalid_argument naming the tensor when the dimension does not divide.
#pragma once

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

namespace glmh {

inline at::Tensor slice_for_tp(const at::Tensor& t, int64_t dim, int64_t rank, int64_t size, const std::string& name) {
  if (t.size(dim) % size != 0)
    throw std::invalid_argument("tensor '" + name + "': dimension " + std::to_string(dim) + " (" +
                                std::to_string(t.size(dim)) + ") does not split over tp " + std::to_string(size));
  const int64_t n = t.size(dim) / size;
  return t.narrow(dim, rank * n, n).contiguous();
}

}  // namespace glmh
