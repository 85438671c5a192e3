// Applying a config's activation function (activation_config.h) to a tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include "pipeline/model/activation_config.h"

namespace glmh {

at::Tensor apply_activation(Activation activation, const at::Tensor& x);

}  // namespace glmh
