// A small stand-in pipeline that exercises the runtime end to end until the GLM-Image model lands:
// one stage of each parallelism type, with real TP, SP and CFG communication and a single-rank
// reference to check against.
//
//   demo.prepare   REPLICATED                 seeds the request generator, draws the noise
//   demo.prior     MAIN_RANK_ONLY_AND_SEND... samples "prior tokens" from the request generator
//   demo.denoise   CFG_PARALLEL               Euler steps of v = tanh(W x + E[tok] + mean(x)) with
//                                             CFG; W split over TP, tokens over SP, branches over CFG
//   demo.decode    MAIN_RANK_ONLY             turns the latents into an 8-bit image on rank 0
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "pipeline/executor/request.h"
#include "pipeline/executor/stage.h"

namespace glmh::demo {

struct DemoConfig {
  int64_t channels = 16;
  int64_t height = 32;  // latent rows; split over SP
  int64_t width = 32;
  int64_t vocab = 64;
  int64_t steps = 8;
  double guidance = 4.0;
  uint64_t seed = 42;
};

std::vector<std::unique_ptr<Stage>> make_demo_stages();

// The request the stages start from.
Request make_demo_request(const DemoConfig& config, const c10::Device& device);

// The same computation on one rank without any collective, from the same inputs: the reference
// the parallel run is checked against. Returns the final latents [channels, height * width].
at::Tensor demo_reference_latents(const DemoConfig& config, const at::Tensor& noise,
                                  const at::Tensor& prior_tokens);

}  // namespace glmh::demo
