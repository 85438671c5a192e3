// The AR decoder's sandwich norms between sublayers: the residual stream takes the sublayer's
// RMS-normalised output, and the next sublayer's input is the RMS norm of the result. One kernel
// on a GPU (cuda/add_rms_norm_pair.cu: three launches become one, 80 times a token); elsewhere,
// and as the reference, compat::rms_norm twice and an add.
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>

namespace glmh {

// {h + rms_norm(y) * w_y, rms_norm(that) * w_z}; h, y [..., D], weights [D].
std::pair<at::Tensor, at::Tensor> add_rms_norm_pair(const at::Tensor& h, const at::Tensor& y, const at::Tensor& w_y,
                                                    const at::Tensor& w_z, double eps);
std::pair<at::Tensor, at::Tensor> add_rms_norm_pair_reference(const at::Tensor& h, const at::Tensor& y,
                                                              const at::Tensor& w_y, const at::Tensor& w_z,
                                                              double eps);

}  // namespace glmh
