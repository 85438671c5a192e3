#include "demo_pipeline.h"

#include <ATen/ATen.h>

#include "pipeline/runtime/rank_context.h"

namespace glmh::demo {

namespace {

DemoConfig config_of(const Request& r) {
  DemoConfig c;
  c.channels = r.get_int("channels");
  c.height = r.get_int("height");
  c.width = r.get_int("width");
  c.vocab = r.get_int("vocab");
  c.steps = r.get_int("steps");
  c.guidance = r.get_double("guidance");
  c.seed = static_cast<uint64_t>(r.get_int("seed"));
  return c;
}

// Weights drawn from their own seeded stream, identical on every rank: W [C, C], E [vocab, C].
std::pair<at::Tensor, at::Tensor> demo_weights(const DemoConfig& c, const c10::Device& device) {
  at::Generator g = Request::make_generator(c10::Device(c10::kCPU), c.seed + 1);
  at::Tensor w = at::randn({c.channels, c.channels}, g, at::kFloat) / std::sqrt(double(c.channels));
  at::Tensor e = at::randn({c.vocab, c.channels}, g, at::kFloat) * 0.5;
  return {w.to(device), e.to(device)};
}

// One velocity evaluation on a band of tokens. x [C, n], w_rows [C_local, C], emb [C, n] (or
// undefined for the unconditional branch), global_mean [C_local, 1].
at::Tensor velocity(const at::Tensor& x, const at::Tensor& w_rows, const at::Tensor& emb_rows,
                    const at::Tensor& global_mean) {
  at::Tensor h = at::matmul(w_rows, x) + global_mean;
  if (emb_rows.defined()) h = h + emb_rows;
  return at::tanh(h);
}

class PrepareStage final : public Stage {
 public:
  std::string name() const override { return "demo.prepare"; }
  StageParallelism parallelism() const override { return StageParallelism::Replicated; }
  void run(Request& r, RankContext& ctx) override {
    const DemoConfig c = config_of(r);
    r.set_generator(Request::make_generator(ctx.device(), c.seed));
    r.set_tensor("noise", at::randn({c.channels, c.height * c.width}, r.generator(),
                                    at::TensorOptions().device(ctx.device())));
  }
};

class PriorStage final : public Stage {
 public:
  std::string name() const override { return "demo.prior"; }
  StageParallelism parallelism() const override {
    return StageParallelism::MainRankOnlyAndSendToOthers;
  }
  void run(Request& r, RankContext& ctx) override {
    const DemoConfig c = config_of(r);
    // Sampled from the request's stream: only the main rank draws, and the generator's advanced
    // state travels with the request.
    r.set_tensor("prior_token_ids", at::randint(c.vocab, {c.height * c.width}, r.generator(),
                                                at::TensorOptions().dtype(at::kLong).device(ctx.device())));
  }
};

class DenoiseStage final : public Stage {
 public:
  std::string name() const override { return "demo.denoise"; }
  StageParallelism parallelism() const override { return StageParallelism::CfgParallel; }
  void run(Request& r, RankContext& ctx) override {
    const DemoConfig c = config_of(r);
    Communicator& tp = ctx.group(GroupKind::Tp);
    Communicator& sp = ctx.group(GroupKind::Sp);
    Communicator& cfg = ctx.group(GroupKind::Cfg);
    if (c.height % sp.size() != 0)
      throw std::invalid_argument("demo: latent height " + std::to_string(c.height) +
                                  " not divisible by sp " + std::to_string(sp.size()));
    if (c.channels % tp.size() != 0)
      throw std::invalid_argument("demo: channels " + std::to_string(c.channels) +
                                  " not divisible by tp " + std::to_string(tp.size()));
    auto [w, e] = demo_weights(c, ctx.device());
    const int64_t band = c.height / sp.size() * c.width;  // tokens of this SP rank
    const int64_t c_local = c.channels / tp.size();
    at::Tensor w_rows = w.narrow(0, tp.rank() * c_local, c_local);
    at::Tensor x = r.tensor("noise").narrow(1, sp.rank() * band, band).contiguous();
    at::Tensor tokens = r.tensor("prior_token_ids").narrow(0, sp.rank() * band, band);
    at::Tensor emb = e.index_select(0, tokens).t().narrow(0, tp.rank() * c_local, c_local);
    const bool cond_here = cfg.size() == 1 || cfg.rank() == 0;
    const bool uncond_here = cfg.size() == 1 || cfg.rank() == 1;
    const double dt = 1.0 / double(c.steps);

    at::Tensor v_local = at::empty({c_local, band}, x.options());
    at::Tensor v_full = at::empty({c.channels, band}, x.options());
    at::Tensor gathered_tp = at::empty({tp.size(), c_local, band}, x.options());
    for (int64_t step = 0; step < c.steps; ++step) {
      // Global token mean: this band's sum, summed over the SP group.
      at::Tensor mean = x.sum(1, /*keepdim=*/true);
      sp.all_reduce(mean);
      mean = (mean / double(c.height * c.width)).narrow(0, tp.rank() * c_local, c_local);
      at::Tensor v_cond, v_uncond;
      if (cond_here) v_cond = velocity(x, w_rows, emb, mean);
      if (uncond_here) v_uncond = velocity(x, w_rows, at::Tensor(), mean);
      if (cfg.size() > 1) {
        // Branches live on the two CFG ranks: exchange them (rank order: cond, uncond).
        at::Tensor mine = (cond_here ? v_cond : v_uncond).contiguous();
        at::Tensor both = at::empty({2, c_local, band}, x.options());
        cfg.all_gather(both, mine);
        v_cond = both[0];
        v_uncond = both[1];
      }
      v_local.copy_(v_uncond + c.guidance * (v_cond - v_uncond));
      tp.all_gather(gathered_tp, v_local);
      v_full.copy_(gathered_tp.view({c.channels, band}));
      x = x - dt * v_full;
    }
    // Gather the bands after the loop: [sp, C, band] -> [C, H*W].
    at::Tensor bands = at::empty({sp.size(), c.channels, band}, x.options());
    sp.all_gather(bands, x.contiguous());
    r.set_tensor("latents", bands.permute({1, 0, 2}).reshape({c.channels, c.height * c.width}));
  }
};

class DecodeStage final : public Stage {
 public:
  std::string name() const override { return "demo.decode"; }
  StageParallelism parallelism() const override { return StageParallelism::MainRankOnly; }
  void run(Request& r, RankContext&) override {
    const DemoConfig c = config_of(r);
    at::Tensor rgb = r.tensor("latents").narrow(0, 0, 3).view({3, c.height, c.width});
    r.set_tensor("image", (at::sigmoid(rgb) * 255).round().to(at::kByte).cpu());
  }
};

}  // namespace

std::vector<std::unique_ptr<Stage>> make_demo_stages() {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<PrepareStage>());
  stages.push_back(std::make_unique<PriorStage>());
  stages.push_back(std::make_unique<DenoiseStage>());
  stages.push_back(std::make_unique<DecodeStage>());
  return stages;
}

Request make_demo_request(const DemoConfig& c, const c10::Device&) {
  Request r;
  r.set_int("channels", c.channels);
  r.set_int("height", c.height);
  r.set_int("width", c.width);
  r.set_int("vocab", c.vocab);
  r.set_int("steps", c.steps);
  r.set_double("guidance", c.guidance);
  r.set_int("seed", static_cast<int64_t>(c.seed));
  return r;
}

at::Tensor demo_reference_latents(const DemoConfig& c, const at::Tensor& noise,
                                  const at::Tensor& prior_tokens) {
  const c10::Device device = noise.device();
  auto [w, e] = demo_weights(c, device);
  at::Tensor x = noise.clone();
  at::Tensor emb = e.index_select(0, prior_tokens).t();
  const double dt = 1.0 / double(c.steps);
  for (int64_t step = 0; step < c.steps; ++step) {
    at::Tensor mean = x.mean(1, /*keepdim=*/true);
    at::Tensor v_cond = velocity(x, w, emb, mean);
    at::Tensor v_uncond = velocity(x, w, at::Tensor(), mean);
    x = x - dt * (v_uncond + c.guidance * (v_cond - v_uncond));
  }
  return x;
}

}  // namespace glmh::demo
