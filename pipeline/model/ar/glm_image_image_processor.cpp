#include "pipeline/model/ar/glm_image_image_processor.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/checkpoint/component_checkpoint.h"
#include "pipeline/checkpoint/parameter_table.h"

namespace glmh {

namespace {

// Python's int(round(x)): ties go to the even neighbour (the default rounding mode).
int64_t round_half_even(double x) { return int64_t(std::nearbyint(x)); }

// Keys' cubic convolution kernel with a = -0.5 (PIL's and torch's antialiasing bicubic).
double keys_cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// The taps of one resampling pass: output i reads inputs first[i] .. first[i] + count[i] - 1 with
// int16 weights scaled by 2^precision.
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<int16_t> weights;  // [out, stride]
  int64_t stride = 0;
  int precision = 0;
};

Taps antialias_taps(int64_t in_size, int64_t out_size) {
  const double scale = double(in_size) / double(out_size);
  // Downscaling widens the kernel by the scale (antialiasing); upscaling keeps its 2-pixel radius.
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double inv_scale = scale >= 1.0 ? 1.0 / scale : 1.0;
  Taps t;
  t.stride = int64_t(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  std::vector<double> w(size_t(out_size * t.stride), 0.0);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = scale * (double(i) + 0.5);
    // Truncation toward zero, as torch's static_cast does.
    const int64_t first = std::max(int64_t(center - support + 0.5), int64_t(0));
    const int64_t count = std::min(int64_t(center + support + 0.5), in_size) - first;
    double total = 0.0;
    double* row = w.data() + i * t.stride;
    for (int64_t j = 0; j < count; ++j) total += row[j] = keys_cubic((double(j + first) - center + 0.5) * inv_scale);
    if (total != 0.0)
      for (int64_t j = 0; j < count; ++j) row[j] /= total;
    t.first[i] = first;
    t.count[i] = count;
  }
  // The most fractional bits that keep the largest weight (doubled) inside int16.
  const double w_max = *std::max_element(w.begin(), w.end());
  for (t.precision = 0; t.precision < 22; ++t.precision)
    if (int(0.5 + w_max * double(1 << (t.precision + 1))) >= (1 << 15)) break;
  t.weights.resize(w.size());
  const double unit = double(1 << t.precision);
  for (size_t k = 0; k < w.size(); ++k) t.weights[k] = int16_t(int(w[k] < 0 ? -0.5 + w[k] * unit : 0.5 + w[k] * unit));
  return t;
}

// Fixed-point sum back to uint8: round half up, clamp to [0, 255].
inline uint8_t to_u8(int64_t acc, int precision) {
  acc += int64_t(1) << (precision - 1);
  if (acc < 0) return 0;
  return uint8_t(std::min<int64_t>(acc >> precision, 255));
}

// One pass over the last axis: [rows, in] -> [rows, out].
at::Tensor resample_rows(const at::Tensor& in, int64_t out_size) {
  const int64_t rows = in.size(0), in_size = in.size(1);
  const Taps t = antialias_taps(in_size, out_size);
  at::Tensor out = at::empty({rows, out_size}, in.options());
  const uint8_t* src = in.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const uint8_t* line = src + r * in_size;
      for (int64_t i = 0; i < out_size; ++i) {
        const int16_t* w = t.weights.data() + i * t.stride;
        const uint8_t* px = line + t.first[i];
        int64_t acc = 0;
        for (int64_t j = 0; j < t.count[i]; ++j) acc += int64_t(px[j]) * w[j];
        dst[r * out_size + i] = to_u8(acc, t.precision);
      }
    }
  });
  return out;
}

// One pass over the middle axis: [planes, in, cols] -> [planes, out, cols].
at::Tensor resample_columns(const at::Tensor& in, int64_t out_size) {
  const int64_t planes = in.size(0), in_size = in.size(1), cols = in.size(2);
  const Taps t = antialias_taps(in_size, out_size);
  at::Tensor out = at::empty({planes, out_size, cols}, in.options());
  const uint8_t* src = in.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  at::parallel_for(0, planes * out_size, 16, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> acc(size_t(cols), 0);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t plane = task / out_size, i = task % out_size;
      std::fill(acc.begin(), acc.end(), 0);
      const int16_t* w = t.weights.data() + i * t.stride;
      for (int64_t j = 0; j < t.count[i]; ++j) {
        const uint8_t* line = src + (plane * in_size + t.first[i] + j) * cols;
        for (int64_t x = 0; x < cols; ++x) acc[size_t(x)] += int64_t(line[x]) * w[j];
      }
      uint8_t* o = dst + (plane * out_size + i) * cols;
      for (int64_t x = 0; x < cols; ++x) o[x] = to_u8(acc[size_t(x)], t.precision);
    }
  });
  return out;
}

void read_triple(const nlohmann::json& j, const char* key, std::array<double, 3>& out, const ConfigFields& f) {
  if (!j.contains(key)) return;
  const auto& v = j[key];
  if (v.is_number()) {
    out.fill(v.get<double>());
  } else if (v.is_array() && v.size() == 3 && std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_number(); })) {
    for (size_t i = 0; i < 3; ++i) out[i] = v[i].get<double>();
  } else {
    f.fail(std::string("field '") + key + "' must be a number or a list of 3 numbers, got " + v.dump());
  }
}

}  // namespace

GlmImageProcessorConfig GlmImageProcessorConfig::upstream_class_defaults() {
  GlmImageProcessorConfig c;
  c.min_pixels = 56 * 56;
  c.max_pixels = 28 * 28 * 1280;
  c.patch_size = 14;
  c.temporal_patch_size = 2;
  c.merge_size = 2;
  c.image_mean = {0.48145466, 0.4578275, 0.40821073};  // OPENAI_CLIP_MEAN
  c.image_std = {0.26862954, 0.26130258, 0.27577711};  // OPENAI_CLIP_STD
  return c;
}

GlmImageProcessorConfig GlmImageProcessorConfig::from_json(const nlohmann::json& j, const std::string& source) {
  GlmImageProcessorConfig c = upstream_class_defaults();
  const ConfigFields f(j, source);  // refuses anything but an object
  if (j.contains("size")) {
    // A given size replaces the default one whole; resizing needs both edges.
    if (!j["size"].is_object()) f.fail("field 'size' must be an object, got " + j["size"].dump());
    c.min_pixels = c.max_pixels = 0;
    const ConfigFields size(j["size"], source + " (size)");
    size.positive_int("shortest_edge", c.min_pixels);
    size.positive_int("longest_edge", c.max_pixels);
  }
  f.positive_int("min_pixels", c.min_pixels);
  f.positive_int("max_pixels", c.max_pixels);
  f.boolean("do_resize", c.do_resize);
  f.boolean("do_rescale", c.do_rescale);
  f.boolean("do_normalize", c.do_normalize);
  f.number("rescale_factor", c.rescale_factor);
  f.positive_int("patch_size", c.patch_size);
  f.positive_int("temporal_patch_size", c.temporal_patch_size);
  f.positive_int("merge_size", c.merge_size);
  read_triple(j, "image_mean", c.image_mean, f);
  read_triple(j, "image_std", c.image_std, f);
  if (j.contains("resample")) {
    if (!j["resample"].is_number_integer()) f.fail("field 'resample' must be an integer, got " + j["resample"].dump());
    c.resample = j["resample"].get<int64_t>();
  }
  if (c.resample != 3) f.fail("resample " + std::to_string(c.resample) + " is not supported (3, bicubic)");
  if (c.do_resize && (c.min_pixels == 0 || c.max_pixels == 0))
    f.fail("size must give shortest_edge and longest_edge (or min_pixels and max_pixels)");
  if (c.do_rescale && !(c.rescale_factor > 0)) f.fail("rescale_factor must be positive");
  if (c.do_normalize && std::any_of(c.image_std.begin(), c.image_std.end(), [](double s) { return s == 0; }))
    f.fail("image_std must not be 0");
  return c;
}

GlmImageProcessorConfig GlmImageProcessorConfig::from_file(const std::string& path) {
  return from_json(read_json_file(path), path);
}

std::pair<int64_t, int64_t> glm_image_smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                                   int64_t max_pixels) {
  const std::string size = std::to_string(height) + "x" + std::to_string(width);
  if (height < factor || width < factor)
    throw std::invalid_argument("image processor: image " + size + " has a side smaller than the factor " +
                                std::to_string(factor));
  const int64_t min_side = std::min(height, width), max_side = std::max(height, width);
  if (double(max_side) / double(min_side) > 4)
    throw std::invalid_argument("image processor: image " + size + " has an aspect ratio above 4");
  const int64_t shortest_edge = round_half_even(std::sqrt(double(min_pixels)));
  const int64_t longest_edge = round_half_even(std::sqrt(double(max_pixels)));
  double scale = 1.0;
  if (min_side < shortest_edge) scale = double(shortest_edge) / double(min_side);
  if (double(max_side) * scale > double(longest_edge)) scale = double(longest_edge) / double(max_side);
  // Upstream halves both sides after choosing the scale: a patch covers two input pixels a side.
  const int64_t half_h = height / 2, half_w = width / 2;
  int64_t h_bar = std::max(factor, round_half_even(double(half_h) * scale / double(factor)) * factor);
  int64_t w_bar = std::max(factor, round_half_even(double(half_w) * scale / double(factor)) * factor);
  if (std::max(h_bar, w_bar) > longest_edge) {
    const double beta = double(std::max(h_bar, w_bar)) / double(longest_edge);
    h_bar = std::max(factor, int64_t(std::floor(double(h_bar) / beta / double(factor))) * factor);
    w_bar = std::max(factor, int64_t(std::floor(double(w_bar) / beta / double(factor))) * factor);
  }
  return {h_bar, w_bar};
}

at::Tensor resize_bicubic_antialias_u8(const at::Tensor& image, int64_t out_h, int64_t out_w) {
  if (image.scalar_type() != at::kByte || image.dim() != 3 || !image.device().is_cpu())
    throw std::invalid_argument("resize_bicubic_antialias_u8: expected a uint8 [C, H, W] CPU tensor");
  if (out_h < 1 || out_w < 1) throw std::invalid_argument("resize_bicubic_antialias_u8: empty output size");
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  at::Tensor x = image.contiguous();
  // Horizontal pass first, each pass rounded to uint8, a pass skipped when its size is unchanged.
  if (out_w != w) x = resample_rows(x.view({c * h, w}), out_w).view({c, h, out_w});
  if (out_h != h) x = resample_columns(x, out_h);
  return x;
}

ProcessedImage glm_image_preprocess(const at::Tensor& rgb, const GlmImageProcessorConfig& config) {
  if (rgb.scalar_type() != at::kByte || rgb.dim() != 3 || rgb.size(2) != 3)
    throw std::invalid_argument("image processor: expected an RGB image as uint8 [H, W, 3], got " +
                                std::string(c10::toString(rgb.scalar_type())) + " with " + std::to_string(rgb.dim()) +
                                " dims");
  at::Tensor image = rgb.cpu().permute({2, 0, 1}).contiguous();  // [3, H, W]
  const int64_t factor = config.patch_size * config.merge_size;
  if (config.do_resize) {
    const auto [h, w] = glm_image_smart_resize(image.size(1), image.size(2), factor, config.min_pixels, config.max_pixels);
    if (h != image.size(1) || w != image.size(2)) image = resize_bicubic_antialias_u8(image, h, w);
  } else if (image.size(1) % factor != 0 || image.size(2) % factor != 0) {
    throw std::invalid_argument("image processor: without resizing, the image sides must be multiples of " +
                                std::to_string(factor));
  }
  // The torchvision backend fuses rescale into normalise: (x - mean / r) / (std / r), in fp32.
  at::Tensor x = image.to(at::kFloat);
  if (config.do_normalize) {
    const float r = config.do_rescale ? float(1.0 / config.rescale_factor) : 1.0f;
    std::vector<float> mean, std;
    for (size_t i = 0; i < 3; ++i) {
      mean.push_back(config.do_rescale ? float(config.image_mean[i]) * r : float(config.image_mean[i]));
      std.push_back(config.do_rescale ? float(config.image_std[i]) * r : float(config.image_std[i]));
    }
    x = (x - at::tensor(mean).view({3, 1, 1})) / at::tensor(std).view({3, 1, 1});
  } else if (config.do_rescale) {
    x = x * float(config.rescale_factor);
  }
  const int64_t p = config.patch_size, m = config.merge_size, t = config.temporal_patch_size;
  const int64_t gh = x.size(1) / p, gw = x.size(2) / p;
  // (c, gh/m, m, p, gw/m, m, p) -> (gh/m, gw/m, m, m, c, [t], p, p): merge blocks, then channel-major patches.
  const at::Tensor patches = x.view({3, gh / m, m, p, gw / m, m, p})
                                 .permute({1, 4, 2, 5, 0, 3, 6})
                                 .unsqueeze(5)
                                 .expand({gh / m, gw / m, m, m, 3, t, p, p})
                                 .reshape({gh * gw, 3 * t * p * p});
  return {patches, GridThw{1, gh, gw}};
}

}  // namespace glmh
