// Deterministic random weights for the presets (tiny, small, full): a counter-based hash of
// (seed, tensor name, element index), computed with integer tensor ops on the target device. The
// same seed gives bit-identical weights on the CPU and on a GPU, in any chunking, with no RNG
// state, and the full model's 16 B parameters are made on the GPU in seconds instead of being
// read from disk.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace glmh {

// Uniform values in [-bound, bound) for `name`, as `dtype` on `device`.
at::Tensor hashed_uniform(uint64_t stream, const std::vector<int64_t>& shape, double bound, const c10::Device& device,
                          c10::ScalarType dtype);

// A parameter of a random-weight model, scaled by its role so that activations stay O(1) through
// deep stacks in bf16: matrices and embeddings std 1/sqrt(fan_in); 1-D weights (every norm's
// scale) 1 +- 0.1; 1-D biases +- 0.02.
at::Tensor preset_parameter(const std::string& component, const std::string& name, const std::vector<int64_t>& shape,
                            uint64_t seed, const c10::Device& device, c10::ScalarType dtype);

}  // namespace glmh
