// The model's unit steps, timed with device synchronisation: one CFG denoise step (two DiT
// forwards and the Euler update) and one AR decode step (one token through the decoder with a KV
// cache, the LM head and the sampler). Weights come from a preset (deterministic, made on the
// device), so the full model needs no checkpoint:
//   bench_model_steps --model full --device cuda --height 1024 --width 1024 [--context 1300]
// Besides Google Benchmark's time, each reports the rate against its floor: DiT TFLOP/s (FLOP
// model 2 x layers x (24 n D^2 + 4 n^2 D)), AR weight bytes read per second (decode reads every
// decoder weight once per token; the H200's ~4.8 TB/s makes 16.45 GB a 3.4 ms floor).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/token_sampler.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/runtime/device_sync.h"

namespace {

struct Settings {
  std::string model = "tiny", device = "cpu", dtype;
  int64_t height = 256, width = 256, context = 300;
};

Settings g_settings;  // set once in main before any benchmark runs

std::shared_ptr<glmh::GlmImageModels> models() {
  static std::shared_ptr<glmh::GlmImageModels> m = [] {
    const c10::Device device(g_settings.device == "cuda" ? c10::kCUDA : c10::kCPU);
    std::string dtype = g_settings.dtype.empty() ? (device.is_cuda() ? "bf16" : "fp32") : g_settings.dtype;
    return std::make_shared<glmh::GlmImageModels>(glmh::ModelSource::open(g_settings.model), device,
                                                  dtype == "bf16" ? at::kBFloat16 : at::kFloat);
  }();
  return m;
}

void sync(const c10::Device& device) { glmh::synchronize_device(device, std::chrono::seconds(120), "benchmark step"); }

void BM_DitCfgStep(benchmark::State& state) {
  auto m = models();
  const glmh::GlmImageDiT& dit = m->dit();
  const auto& c = dit.config();
  const c10::Device device = m->device();
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  const int64_t h = g_settings.height, w = g_settings.width, n = (h / 16) * (w / 16), text = 16;
  glmh::DiTInputs cond;
  cond.glyph_embeds = at::randn({1, text, c.text_embed_dim}, f32).to(m->dtype());
  cond.prior_token_id = at::randint(c.prior_vq_quantizer_codebook_size, {1, n}, f32.dtype(at::kLong));
  cond.prior_token_drop = at::zeros({1}, f32.dtype(at::kBool));
  cond.target_size = at::tensor({float(h), float(w)}, at::kFloat).view({1, 2}).to(device);
  cond.crop_coords = at::zeros({1, 2}, f32);
  std::tie(cond.rotary_cos, cond.rotary_sin) = glmh::get_freqs_cis(h / 16, w / 16, c.attention_head_dim);
  cond.rotary_cos = cond.rotary_cos.to(device);
  cond.rotary_sin = cond.rotary_sin.to(device);
  glmh::DiTInputs uncond = cond;
  uncond.prior_token_drop = at::ones({1}, f32.dtype(at::kBool));
  uncond.glyph_embeds = cond.glyph_embeds.narrow(1, 0, 1);
  at::Tensor x = at::randn({1, c.in_channels, h / 8, w / 8}, f32);
  const at::Tensor timestep = at::full({1}, 500.0, f32);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    cond.latents = uncond.latents = x.to(m->dtype());
    cond.timestep = uncond.timestep = timestep;
    const at::Tensor v_c = dit.forward(cond).to(at::kFloat), v_u = dit.forward(uncond).to(at::kFloat);
    x = x + (-0.02) * (v_u + 1.5 * (v_c - v_u));
    sync(device);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const double d = double(c.inner_dim()), tokens = double(n + text);
  const double flop = 2.0 * double(c.num_layers) * (24.0 * tokens * d * d + 4.0 * tokens * tokens * d);
  state.counters["TFLOP/s"] = benchmark::Counter(flop * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["image_tokens"] = double(n);
}

void BM_ArDecodeStep(benchmark::State& state) {
  auto m = models();
  const glmh::GlmImageTextModel& ar = m->ar();
  const auto& c = ar.config();
  const c10::Device device = m->device();
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  const int64_t context = g_settings.context, steps = 4096;
  glmh::ArKvCache cache(c, 1, context + steps, device, ar.dtype());
  const at::Tensor prompt = at::randint(c.vision_vocab_size, {1, context}, i64);
  ar.hidden_states(prompt, at::arange(context, i64).expand({3, 1, context}), &cache);
  glmh::SamplingConfig sampling;  // the checkpoint's: temperature 0.9, top-p 0.75
  const at::Tensor uniforms = glmh::sampling_uniforms(1, steps, device);
  at::Tensor token = prompt.narrow(1, context - 1, 1);
  int64_t j = 0;
  for (auto _ : state) {
    if (cache.length() == cache.capacity()) cache.truncate(context);
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor pos = at::full({3, 1, 1}, cache.length(), i64);
    const at::Tensor hidden = ar.hidden_states(token, pos, &cache);
    token = glmh::select_tokens(ar.logits(hidden).select(1, 0), uniforms.narrow(0, j++ % steps, 1), sampling,
                                16384).view({1, 1});
    sync(device);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // Every decoder weight (embedding row aside) and the LM head are read once per token.
  const double d = double(c.hidden_size), q = double(c.num_attention_heads * c.head_size()),
               kv = double(c.num_key_value_heads * c.head_size()), f = double(c.intermediate_size);
  const double per_layer = d * (q + 2 * kv) + q * d + d * 2 * f + f * d;
  const double bytes = (double(c.num_hidden_layers) * per_layer + double(c.vision_vocab_size) * d) *
                       double(c10::elementSize(ar.dtype()));
  state.counters["weight_GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["context"] = double(context);
}

BENCHMARK(BM_DitCfgStep)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);
BENCHMARK(BM_ArDecodeStep)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);

// Takes glmh's own options out of argv before Google Benchmark sees it.
void parse_settings(int& argc, char** argv) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      out = argv[++i];
    };
    std::string v;
    if (a == "--model") value(g_settings.model);
    else if (a == "--device") value(g_settings.device);
    else if (a == "--dtype") value(g_settings.dtype);
    else if (a == "--height") value(v), g_settings.height = std::stoll(v);
    else if (a == "--width") value(v), g_settings.width = std::stoll(v);
    else if (a == "--context") value(v), g_settings.context = std::stoll(v);
    else rest.push_back(argv[i]);
  }
  argc = int(rest.size());
  for (int i = 0; i < argc; ++i) argv[i] = rest[i];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    parse_settings(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_model_steps: " << e.what() << "\n";
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::cout << "model " << g_settings.model << ", device " << g_settings.device << ", " << g_settings.height << "x"
            << g_settings.width << ", AR context " << g_settings.context << "\n";
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
