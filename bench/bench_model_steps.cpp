// The model's unit steps and kernels at the real shapes, timed with device synchronisation:
//   BM_DitForward       one DiT forward (the conditional pass), enqueued from the host
//   BM_DitForwardGraph  the same replayed as a CUDA graph, as the denoising loop runs it on a GPU:
//                       the figure the single-GPU target is on
//   BM_DitBlock         a DiT cut to its first block (embeddings and output layer included, ~1 %)
//   BM_DitCfgStep       one CFG denoise step: two forwards and the Euler update
//   BM_DitAttention     the joint attention of one block ([1, heads, image + text, head_dim])
//   BM_ArDecodeStep     one AR token, eager: decoder with KV cache, LM head, sampler
//   BM_ArDecodeGraph    the same replayed as a CUDA graph, per token over 128-token runs (captured once,
//                       not timed; until 2026-12-01 each run captured anew and counted its capture)
//   BM_ArDecodeAttention one layer's decode attention over the KV cache (context valid of context + 1300)
// Weights come from a preset (deterministic, made on the device), so the full model needs no
// checkpoint:
//   bench_model_steps --model full --device cuda --height 1024 --width 1024 [--context 1300] [--trace DIR]
// Each reports its rate and the fraction of the H200's peak (docs/performance.md#floors): TFLOP/s
// for compute-bound steps (FLOP model 24 n D^2 + 4 n^2 D per block), GB/s of weights or cache read
// for decode. --trace DIR profiles two more iterations of the DiT forward and the eager decode step
// and prints the device time per kernel (the table to read before optimising anything).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "harness/timing/step_breakdown.h"
#include "harness/timing/step_profiler.h"
#include "pipeline/glm_image/glm_image_models.h"
#include "pipeline/kernels/decode_attention.h"
#include "pipeline/model/ar/ar_kv_cache.h"
#include "pipeline/model/ar/token_sampler.h"
#include "pipeline/model/dit/dit_forward_graph.h"
#include "pipeline/model/dit/dit_rotary.h"
#include "pipeline/runtime/cuda_graph.h"
#include "pipeline/runtime/device_sync.h"
#include "pipeline/runtime/torch_compat.h"

namespace {

// An H200 SXM's dense bf16 tensor-core peak and HBM3e bandwidth (NVIDIA's data sheet).
constexpr double kH200Bf16Flops = 989e12;
constexpr double kH200HbmBytesPerSecond = 4.8e12;

struct Settings {
  std::string model = "tiny", device = "cpu", dtype, trace_dir;
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

// Runs `step` once per benchmark iteration, timed from enqueue to device completion, after one
// untimed run (cuBLAS and cuDNN pick their kernels on a shape's first call: a second-long outlier).
void time_iterations(benchmark::State& state, const c10::Device& device, const std::function<void()>& step) {
  step();
  sync(device);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    step();
    sync(device);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

void report_flops(benchmark::State& state, double flop) {
  state.counters["TFLOP/s"] = benchmark::Counter(flop * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["of_peak"] = benchmark::Counter(flop / kH200Bf16Flops, benchmark::Counter::kIsIterationInvariantRate);
}

void report_bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["of_peak"] =
      benchmark::Counter(bytes / kH200HbmBytesPerSecond, benchmark::Counter::kIsIterationInvariantRate);
}

int64_t image_tokens() { return (g_settings.height / 16) * (g_settings.width / 16); }
constexpr int64_t kGlyphTokens = 16;

// FLOP of `blocks` DiT blocks over n tokens of width D: 24 n D^2 (projections, feed-forward) +
// 4 n^2 D (attention scores and values).
double dit_flop(const glmh::GlmImageDiTConfig& c, int64_t blocks) {
  const double d = double(c.inner_dim()), n = double(image_tokens() + kGlyphTokens);
  return 2.0 * double(blocks) * (12.0 * n * d * d + 2.0 * n * n * d);
}

// The conditional and unconditional inputs of one 1024² (or --height x --width) denoise step.
struct DitStepInputs {
  glmh::DiTInputs cond, uncond;
  at::Tensor x;

  explicit DitStepInputs(const glmh::GlmImageModels& m, const glmh::GlmImageDiTConfig& c) {
    const c10::Device device = m.device();
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
    const int64_t h = g_settings.height, w = g_settings.width;
    cond.glyph_embeds = at::randn({1, kGlyphTokens, c.text_embed_dim}, f32).to(m.dtype());
    cond.prior_token_id = at::randint(c.prior_vq_quantizer_codebook_size, {1, image_tokens()}, f32.dtype(at::kLong));
    cond.prior_token_drop = at::zeros({1}, f32.dtype(at::kBool));
    cond.target_size = at::tensor({float(h), float(w)}, at::kFloat).view({1, 2}).to(device);
    cond.crop_coords = at::zeros({1, 2}, f32);
    std::tie(cond.rotary_cos, cond.rotary_sin) = glmh::get_freqs_cis(h / 16, w / 16, c.attention_head_dim);
    cond.rotary_cos = cond.rotary_cos.to(device);
    cond.rotary_sin = cond.rotary_sin.to(device);
    cond.timestep = at::full({1}, 500.0, f32);
    uncond = cond;
    uncond.prior_token_drop = at::ones({1}, f32.dtype(at::kBool));
    uncond.glyph_embeds = cond.glyph_embeds.narrow(1, 0, 1);
    x = at::randn({1, c.in_channels, h / 8, w / 8}, f32);
    cond.latents = uncond.latents = x.to(m.dtype());
  }
};

std::function<void()> dit_forward_step(const glmh::GlmImageDiT& dit) {
  auto in = std::make_shared<DitStepInputs>(*models(), dit.config());
  return [&dit, in] { dit.forward(in->cond); };
}

void BM_DitForward(benchmark::State& state) {
  const glmh::GlmImageDiT& dit = models()->dit();
  time_iterations(state, models()->device(), dit_forward_step(dit));
  report_flops(state, dit_flop(dit.config(), dit.config().num_layers));
  state.counters["image_tokens"] = double(image_tokens());
}

void BM_DitForwardGraph(benchmark::State& state) {
  const glmh::GlmImageDiT& dit = models()->dit();
  const auto in = std::make_shared<DitStepInputs>(*models(), dit.config());
  if (!glmh::DitForwardGraph::supports(in->cond, models()->device())) {
    state.SkipWithError("DiT forward graphs need a CUDA device");
    return;
  }
  glmh::DitForwardGraph graph;
  graph.forward(dit, in->cond);  // the eager warm-up; time_iterations' own warm-up call captures
  time_iterations(state, models()->device(), [&] { graph.forward(dit, in->cond); });
  report_flops(state, dit_flop(dit.config(), dit.config().num_layers));
}

void BM_DitBlock(benchmark::State& state) {
  const glmh::GlmImageDiT one_block = models()->dit().first_blocks(1);
  time_iterations(state, models()->device(), dit_forward_step(one_block));
  report_flops(state, dit_flop(one_block.config(), 1));
}

void BM_DitCfgStep(benchmark::State& state) {
  const glmh::GlmImageDiT& dit = models()->dit();
  DitStepInputs in(*models(), dit.config());
  time_iterations(state, models()->device(), [&] {
    in.cond.latents = in.uncond.latents = in.x.to(models()->dtype());
    const at::Tensor v_c = dit.forward(in.cond).to(at::kFloat), v_u = dit.forward(in.uncond).to(at::kFloat);
    in.x = in.x + (-0.02) * (v_u + 1.5 * (v_c - v_u));
  });
  report_flops(state, 2 * dit_flop(dit.config(), dit.config().num_layers));
}

void BM_DitAttention(benchmark::State& state) {
  const auto& c = models()->dit().config();
  const int64_t n = image_tokens() + kGlyphTokens;
  const auto opts = at::TensorOptions().dtype(models()->dtype()).device(models()->device());
  // [B, S, H, D] transposed, as the DiT block passes them.
  auto make = [&] { return at::randn({1, n, c.num_attention_heads, c.attention_head_dim}, opts).transpose(1, 2); };
  const at::Tensor q = make(), k = make(), v = make();
  time_iterations(state, models()->device(), [&] { glmh::compat::attention(q, k, v); });
  report_flops(state, 4.0 * double(n) * double(n) * double(c.inner_dim()));
}

// An AR decode step on a cache prefilled with `context` random tokens.
struct ArDecodeState {
  const glmh::GlmImageTextModel& ar;
  glmh::ArKvCache cache;
  glmh::SamplingConfig sampling;  // the checkpoint's: temperature 0.9, top-p 0.75
  at::Tensor uniforms, token, step_index;
  static constexpr int64_t kSteps = 4096;

  explicit ArDecodeState(const glmh::GlmImageTextModel& model)
      : ar(model), cache(model.config(), 1, g_settings.context + kSteps, models()->device(), model.dtype()) {
    const auto i64 = at::TensorOptions().dtype(at::kLong).device(models()->device());
    const int64_t context = g_settings.context;
    const at::Tensor prompt = at::randint(ar.config().vision_vocab_size, {1, context}, i64);
    ar.hidden_states(prompt, at::arange(context, i64).expand({3, 1, context}), &cache);
    uniforms = glmh::sampling_uniforms(1, kSteps, models()->device());
    token = prompt.narrow(1, context - 1, 1);
    step_index = at::zeros({1}, i64);
  }

  // The generation's own step (ar_generation.cpp): the cache slot given on the device, so the
  // kernels are those a replayed graph runs and a --trace table shows them. After kSteps tokens
  // the slots are reused from the context on (the same shapes, the attention over as many keys).
  void step() {
    const at::Tensor draw = step_index.remainder(kSteps), slot = draw + g_settings.context;
    const at::Tensor hidden = ar.hidden_states(token, slot.view({1, 1, 1}).expand({3, 1, 1}), &cache, slot);
    token = glmh::select_tokens(ar.logits(hidden).select(1, 0), uniforms.index_select(0, draw), sampling, 16384)
                .view({1, 1});
    step_index.add_(1);
  }
};

// Every decoder weight (the embedding row aside) and the LM head's image-token rows are read once
// per token.
double ar_weight_bytes(const glmh::GlmImageTextModel& ar) {
  const auto& c = ar.config();
  const double d = double(c.hidden_size), q = double(c.num_attention_heads * c.head_size()),
               kv = double(c.num_key_value_heads * c.head_size()), f = double(c.intermediate_size);
  const double per_layer = d * (q + 2 * kv) + q * d + d * 2 * f + f * d;
  return (double(c.num_hidden_layers) * per_layer + double(c.vision_vocab_size) * d) *
         double(c10::elementSize(ar.dtype()));
}

void BM_ArDecodeStep(benchmark::State& state) {
  auto decode = std::make_shared<ArDecodeState>(models()->ar());
  time_iterations(state, models()->device(), [&] { decode->step(); });
  report_bytes(state, ar_weight_bytes(decode->ar));
  state.counters["context"] = double(g_settings.context);
}

// The decode loop as generate_image_tokens runs it on a GPU: the step's state on the device, one
// graph replay per token (ar_decode_graph.h, runtime/cuda_graph.h).
void BM_ArDecodeGraph(benchmark::State& state) {
  const glmh::GlmImageTextModel& ar = models()->ar();
  const c10::Device device = models()->device();
  constexpr int64_t kTokens = 128;
  const int64_t context = g_settings.context;
  glmh::ArKvCache cache(ar.config(), 1, context + kTokens, device, ar.dtype());
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor prompt = at::randint(ar.config().vision_vocab_size, {1, context}, i64);
  const at::Tensor prefill = ar.hidden_states(prompt, at::arange(context, i64).expand({3, 1, context}), &cache);
  const at::Tensor uniforms = glmh::sampling_uniforms(1, kTokens, device);
  const glmh::SamplingConfig sampling;
  at::Tensor hidden = prefill.narrow(1, context - 1, 1).contiguous(), slot = at::zeros({1}, i64);
  auto step = [&] {
    const at::Tensor token =
        glmh::select_tokens(ar.logits(hidden).select(1, 0), uniforms.index_select(0, slot), sampling, 16384);
    const at::Tensor pos = (slot + context).view({1, 1, 1}).expand({3, 1, 1});
    hidden.copy_(ar.hidden_states(token.view({1, 1}), pos, &cache, slot + context));
    slot.add_(1);
  };
  // Captured once, outside the timing: a generation captures once for its ~1280 tokens.
  glmh::CudaGraph graph;
  if (glmh::CudaGraph::available(device)) {
    step();
    graph.capture(device, step);
  }
  for (auto _ : state) {
    slot.zero_();
    sync(device);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < kTokens; ++i) graph.captured() ? graph.replay() : step();
    sync(device);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / kTokens);
  }
  report_bytes(state, ar_weight_bytes(ar));
}

void BM_ArDecodeAttention(benchmark::State& state) {
  const auto& c = models()->ar().config();
  const c10::Device device = models()->device();
  glmh::ArKvCache cache(c, 1, g_settings.context + 1300, device, models()->ar().dtype());
  const auto opts = at::TensorOptions().dtype(models()->ar().dtype()).device(device);
  const int64_t kv = c.num_key_value_heads, group = c.num_attention_heads / kv, hd = c.head_size();
  const at::Tensor q = at::randn({1, kv, group, hd}, opts);
  const at::Tensor valid = cache.valid_keys(g_settings.context);
  time_iterations(state, device, [&] { glmh::decode_attention(q, cache.key_buffer(0), cache.value_buffer(0), valid); });
  // Keys and values of the valid slots.
  report_bytes(state, 2.0 * double(g_settings.context * kv * hd) * double(c10::elementSize(models()->ar().dtype())));
  state.counters["capacity"] = double(cache.capacity());
}

BENCHMARK(BM_DitForward)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);
BENCHMARK(BM_DitForwardGraph)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);
BENCHMARK(BM_DitBlock)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.2);
BENCHMARK(BM_DitCfgStep)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);
BENCHMARK(BM_DitAttention)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.2);
BENCHMARK(BM_ArDecodeStep)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);
BENCHMARK(BM_ArDecodeGraph)->UseManualTime()->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.5);
BENCHMARK(BM_ArDecodeAttention)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinWarmUpTime(0.2);

// Profiles `iterations` runs of `step` after a warm-up one, writes the trace to DIR/<name>.json and
// prints the device time per kernel, per iteration.
void trace_step(const std::string& name, const std::function<void()>& step, int iterations) {
  const c10::Device device = models()->device();
  step();
  sync(device);
  glmh::StepProfiler profiler(device);
  profiler.start();
  for (int i = 0; i < iterations; ++i) step();
  sync(device);
  const std::string trace = profiler.stop();
  const std::string path = g_settings.trace_dir + "/" + name + ".json";
  std::ofstream(path) << trace;
  const auto totals = glmh::kernel_totals_from_trace(trace, iterations, path);
  double all = 0;
  for (const auto& t : totals) all += t.seconds_per_step;
  std::cout << "\n" << name << ": " << std::fixed << std::setprecision(3) << all * 1e3
            << " ms of device time per iteration (" << path << ")\n";
  for (size_t i = 0; i < totals.size() && i < 25; ++i)
    std::cout << std::setw(9) << totals[i].seconds_per_step * 1e3 << " ms " << std::setw(7) << std::setprecision(1)
              << totals[i].calls_per_step << "x  " << totals[i].name.substr(0, 110) << std::setprecision(3) << "\n";
}

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
    else if (a == "--trace") value(g_settings.trace_dir);
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
  if (!g_settings.trace_dir.empty()) {
    try {
      trace_step("dit_forward", dit_forward_step(models()->dit()), 2);
      auto decode = std::make_shared<ArDecodeState>(models()->ar());
      trace_step("ar_decode_step", [decode] { decode->step(); }, 4);
    } catch (const std::exception& e) {
      std::cerr << "bench_model_steps: --trace: " << e.what() << "\n";
      return 1;
    }
  }
  return 0;
}
