#include "pipeline/glm_image/glm_image_parallel_options.h"

#include <array>
#include <utility>

namespace glmh {

namespace {

constexpr std::array<std::pair<ArStrategy, const char*>, 4> kStrategies{{
    {ArStrategy::MainRank, "main-rank"},
    {ArStrategy::Replicated, "replicated"},
    {ArStrategy::Tp, "tp"},
    {ArStrategy::TpWorld, "tp-world"},
}};

constexpr std::array<std::pair<GlmImageFault, const char*>, 15> kFaults{{
    {GlmImageFault::None, "none"},
    {GlmImageFault::UnshardedRope, "unsharded-rope"},
    {GlmImageFault::SinShardOffByRow, "sin-shard-off-by-row"},
    {GlmImageFault::ArPerRankSeed, "ar-per-rank-seed"},
    {GlmImageFault::CfgRankSource, "cfg-rank-source"},
    {GlmImageFault::RingPrefixNoRotate, "ring-prefix-no-rotate"},
    {GlmImageFault::SkipBroadcast, "skip-broadcast"},
    {GlmImageFault::CacheLocalDecision, "cache-local-decision"},
    {GlmImageFault::PartialHandoff, "partial-handoff"},
    {GlmImageFault::ArSeedFromLayout, "ar-seed-from-layout"},
    {GlmImageFault::UlyssesFp16Wire, "ulysses-fp16-wire"},
    {GlmImageFault::TpAllReduceFp16, "tp-allreduce-fp16"},
    {GlmImageFault::SpPaddingAsKeys, "sp-padding-as-keys"},
    {GlmImageFault::VaeSkipDenormalize, "vae-skip-denormalize"},
    {GlmImageFault::SpQkvFp16Staging, "sp-qkv-fp16-staging"},
}};

template <typename Table, typename T>
const char* name_in(const Table& table, T value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

template <typename T, typename Table>
std::optional<T> value_in(const Table& table, const std::string& name) {
  for (const auto& [v, n] : table)
    if (name == n) return v;
  return std::nullopt;
}

template <typename Table>
std::string names_in(const Table& table) {
  std::string s;
  for (const auto& entry : table) s += (s.empty() ? "" : ", ") + std::string(entry.second);
  return s;
}

}  // namespace

const char* ar_strategy_name(ArStrategy s) { return name_in(kStrategies, s); }
const char* fault_name(GlmImageFault f) { return name_in(kFaults, f); }
std::optional<ArStrategy> parse_ar_strategy(const std::string& name) { return value_in<ArStrategy>(kStrategies, name); }
std::optional<GlmImageFault> parse_fault(const std::string& name) { return value_in<GlmImageFault>(kFaults, name); }
std::string all_ar_strategy_names() { return names_in(kStrategies); }
std::string all_fault_names() { return names_in(kFaults); }

int ar_tensor_parallel_size(ArStrategy strategy, const ParallelLayout& layout) {
  switch (strategy) {
    case ArStrategy::Tp: return layout.tp();
    case ArStrategy::TpWorld: return layout.world_size();
    default: return 1;
  }
}

GroupKind ar_tensor_parallel_group(ArStrategy strategy) {
  return strategy == ArStrategy::TpWorld ? GroupKind::World : GroupKind::Tp;
}

std::string why_fault_cannot_fire(GlmImageFault fault, const FaultConditions& c) {
  const std::string name = fault_name(fault);
  const ParallelLayout& layout = c.layout;
  const bool main_rank_ar = c.ar_strategy == ArStrategy::MainRank;
  switch (fault) {
    case GlmImageFault::None:
      return "";
    case GlmImageFault::UnshardedRope:
      return layout.sp() > 1 ? "" : name + " needs sp > 1 (with one SP rank the whole table is the shard)";
    case GlmImageFault::ArPerRankSeed:
      if (layout.world_size() < 2) return name + " needs more than one rank";
      return c.greedy_ar ? name + " cannot change greedy AR decoding (no random stream is used)" : "";
    case GlmImageFault::CfgRankSource:
      if (layout.cfg() != 2 || layout.world_size() < 4)
        return name + " needs cfg 2 and tp x sp > 1 (otherwise world rank 0 is the only CFG-rank-0 rank)";
      if (c.guidance <= 1.0) return name + " needs guidance > 1 (cfg 2 runs the two CFG branches)";
      return c.greedy_ar ? name + " cannot change greedy AR decoding (no random stream is used)" : "";
    case GlmImageFault::RingPrefixNoRotate:
      return layout.ring() > 1 ? "" : name + " needs ring > 1";
    case GlmImageFault::SkipBroadcast:
      return layout.world_size() > 1 ? "" : name + " needs more than one rank";
    case GlmImageFault::CacheLocalDecision:
      if (!c.cached) return name + " needs a cache (--cache)";
      return layout.sp() > 1 ? ""
                             : name + " needs sp > 1 (under TP or CFG alone every rank sees the same residual, "
                                      "so a local decision is the shared one)";
    case GlmImageFault::PartialHandoff:
      if (layout.world_size() < 2) return name + " needs more than one rank";
      return main_rank_ar ? "" : name + " needs --ar-strategy main-rank (the hand-off it breaks)";
    case GlmImageFault::ArSeedFromLayout:
      if (layout.world_size() < 2) return name + " needs more than one rank (one rank is the single-rank run)";
      return c.greedy_ar ? name + " cannot change greedy AR decoding (no random stream is used)" : "";
    case GlmImageFault::UlyssesFp16Wire:
      return layout.ulysses() > 1 ? "" : name + " needs ulysses > 1";
    case GlmImageFault::TpAllReduceFp16:
      return layout.tp() > 1 ? "" : name + " needs tp > 1";
    case GlmImageFault::SpPaddingAsKeys:
      if (layout.sp() < 2) return name + " needs sp > 1";
      if (c.token_rows > 0 && c.token_rows % layout.sp() == 0)
        return name + " needs padding: " + std::to_string(c.token_rows) + " token rows split evenly over sp " +
               std::to_string(layout.sp()) + " (choose a height whose rows / 16 sp does not divide)";
      return "";
    case GlmImageFault::VaeSkipDenormalize:
      return layout.world_size() > 1 ? "" : name + " needs more than one rank";
    case GlmImageFault::SinShardOffByRow:
    case GlmImageFault::SpQkvFp16Staging:
      return layout.sp() > 1 ? "" : name + " needs sp > 1";
  }
  return "";
}

}  // namespace glmh
