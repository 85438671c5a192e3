// How a GLM-Image run is parallelised beyond the layout itself: the AR stage's strategy, a fault
// that reproduces a bug upstream shipped (docs/faults.md#fault-modes), and the hook through which
// the harness checks the SP shards before the DiT uses them.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <optional>
#include <string>

#include "pipeline/cache/dbcache.h"
#include "pipeline/parallel/sp_sharding.h"
#include "pipeline/runtime/parallel_layout.h"

namespace glmh {

class DeviceTimeline;
class RankContext;
class Request;

enum class ArStrategy {
  MainRank,    // world rank 0 generates; the request reaches every rank (upstream's fix)
  Replicated,  // every rank generates from the same seed: correct only while numerics agree
  Tp,          // every TP group runs the AR model tensor-parallel; all its ranks sample the same token
  TpWorld,     // the whole world runs the AR model tensor-parallel as one, whatever the DiT's layout
};

enum class GlmImageFault {
  None,
  UnshardedRope,       // every SP rank gets the whole rotary table (the pre-fix shape error)
  SinShardOffByRow,    // each SP rank's sin rows are one token row off (cos right): shapes agree, values do not
  ArPerRankSeed,       // every rank runs the AR with its own random stream (the pre-fix TP/SP bug)
  CfgRankSource,       // the AR's source chosen by CFG rank: every CFG-rank-0 rank generates
  RingPrefixNoRotate,  // ring attention re-attends the local prefix at every step
  SkipBroadcast,       // the AR stage run as MAIN_RANK_ONLY: the others never get the tokens
  CacheLocalDecision,  // each SP rank takes the cache decision on its own shard (a forgotten all-reduce)
  PartialHandoff,      // the AR's hand-off carries only the prior tokens: the others' requests lack the rest
  ArSeedFromLayout,    // the AR's sampler seeded from the layout: same tokens everywhere, not the single-rank run's
  UlyssesFp16Wire,     // the Ulysses all-to-all carried in fp16
  TpAllReduceFp16,     // the DiT's TP all-reduce carried in fp16
  SpPaddingAsKeys,     // SP padding tokens are not hidden as keys: attention sees the padding
  VaeSkipDenormalize,  // multi-rank decoding skips the latents' mean / std before the VAE
  SpQkvFp16Staging,    // under SP, q, k, v pass through fp16 buffers before attention (fp32 runs lose precision)
};

const char* ar_strategy_name(ArStrategy s);
const char* fault_name(GlmImageFault f);
// Parse a command-line name; std::nullopt for an unknown one.
std::optional<ArStrategy> parse_ar_strategy(const std::string& name);
std::optional<GlmImageFault> parse_fault(const std::string& name);
std::string all_ar_strategy_names();  // "main-rank, replicated, tp, tp-world"

// How many ranks share one tensor-parallel AR model under `strategy`: the TP group's size for tp,
// the world's for tp-world, else 1. The AR's group need not be the DiT's (tp-world with cfg 2: the
// AR over both GPUs, the DiT one CFG branch per GPU).
int ar_tensor_parallel_size(ArStrategy strategy, const ParallelLayout& layout);
// The process group of that model (GroupKind::Tp or GroupKind::World); meaningful when the size > 1.
GroupKind ar_tensor_parallel_group(ArStrategy strategy);
std::string all_fault_names();

// What decides whether a fault can fire.
struct FaultConditions {
  ParallelLayout layout;
  bool greedy_ar = false;
  double guidance = 1.5;
  bool cached = false;
  ArStrategy ar_strategy = ArStrategy::MainRank;
  int64_t token_rows = 0;  // the DiT's image token rows (height / 16); 0: unknown
};

// Why `fault` could never fire under `conditions` ("" when it can): a fault that cannot fire would
// make its scenario pass silently, so the harness refuses it as bad usage.
std::string why_fault_cannot_fire(GlmImageFault fault, const FaultConditions& conditions);

struct GlmImageRunOptions {
  ArStrategy ar_strategy = ArStrategy::MainRank;
  GlmImageFault fault = GlmImageFault::None;
  // Replay the AR decode step as a CUDA graph (on a GPU, when the AR model is not tensor-parallel).
  bool ar_cuda_graph = true;
  // Replay the DiT forward as a CUDA graph from the second denoising step (on a GPU, where
  // DitForwardGraph::supports the call: single rank, no block cache).
  bool dit_cuda_graph = true;
  // Called on every rank by the denoising stage once it has cut this rank's shards, before the
  // first DiT call, with the request (whole latents and prior ids). Every rank calls it, so it
  // may be collective; it may throw RunStopped on every rank to stop the run.
  std::function<void(RankContext&, const Request&, const SpShardPlan&, const SpShards&)> on_sp_shards;
  // When set, the denoising stage marks it before the first step and after each step (a device
  // event on CUDA: no host synchronisation in the loop). Not owned.
  DeviceTimeline* denoise_steps = nullptr;
  // DiT block caching (pipeline/cache/); disabled by default.
  CacheProfile cache;
  // Called on every rank after each cache decision, before the DiT acts on it (every rank makes
  // the same calls, so it may be collective over the world; it may throw RunStopped).
  std::function<void(RankContext&, CfgBranch, const CacheDecision&)> on_cache_decision;
  // Progress, from the host loops (AR tokens, denoise steps): done, total.
  std::function<void(int64_t, int64_t)> on_ar_token, on_denoise_step;
};

}  // namespace glmh
