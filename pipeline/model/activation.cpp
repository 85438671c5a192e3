#include "pipeline/model/activation.h"

#include <ATen/ATen.h>

namespace glmh {

at::Tensor apply_activation(Activation activation, const at::Tensor& x) {
  switch (activation) {
    case Activation::Silu: return at::silu(x);
    case Activation::Gelu: return at::gelu(x);
    case Activation::GeluTanh: return at::gelu(x, "tanh");
    case Activation::Relu: return at::relu(x);
  }
  return x;
}

}  // namespace glmh
