#include "pipeline/checkpoint/preset_weights.h"

#include <ATen/ATen.h>

#include <cmath>

namespace glmh {

namespace {

// int64 views of the splitmix64 constants (tensor arithmetic wraps modulo 2^64).
constexpr int64_t as_signed(uint64_t v) { return static_cast<int64_t>(v); }
constexpr int64_t kGolden = as_signed(0x9E3779B97F4A7C15ull);
constexpr int64_t kMix1 = as_signed(0xBF58476D1CE4E5B9ull);
constexpr int64_t kMix2 = as_signed(0x94D049BB133111EBull);

// Logical right shift of int64 tensors (>> on int64 is arithmetic).
at::Tensor shift_right(const at::Tensor& x, int bits) {
  return at::bitwise_and(at::__rshift__(x, bits), (int64_t(1) << (64 - bits)) - 1);
}

uint64_t fnv1a(const std::string& text, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

at::Tensor hashed_uniform(uint64_t stream, const std::vector<int64_t>& shape, double bound, const c10::Device& device,
                          c10::ScalarType dtype) {
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype).device(device));
  at::Tensor flat = out.view({-1});
  const int64_t n = flat.numel(), chunk = int64_t(1) << 26;  // bounds the int64 temporaries
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    at::Tensor h = at::arange(start, start + len, i64) * kGolden + as_signed(stream);  // splitmix64
    h = at::bitwise_xor(h, shift_right(h, 30)) * kMix1;
    h = at::bitwise_xor(h, shift_right(h, 27)) * kMix2;
    h = at::bitwise_xor(h, shift_right(h, 31));
    const at::Tensor unit = shift_right(h, 11).to(at::kDouble) * (1.0 / 9007199254740992.0);  // [0, 1), 53 bits
    flat.narrow(0, start, len).copy_((unit * 2.0 - 1.0) * bound);
  }
  return out;
}

at::Tensor preset_parameter(const std::string& component, const std::string& name, const std::vector<int64_t>& shape,
                            uint64_t seed, const c10::Device& device, c10::ScalarType dtype) {
  const uint64_t stream = fnv1a(name, fnv1a(component)) ^ (seed * 0x9E3779B97F4A7C15ull);
  const auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (shape.size() >= 2) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    return hashed_uniform(stream, shape, std::sqrt(3.0 / double(fan_in)), device, dtype);
  }
  if (ends_with("bias")) return hashed_uniform(stream, shape, 0.02, device, dtype);
  return hashed_uniform(stream, shape, 0.1, device, dtype).add_(1.0);
}

}  // namespace glmh
