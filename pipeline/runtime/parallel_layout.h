// How N ranks are split into TP, SP (Ulysses × Ring) and CFG groups.
//
// Rank order is tp-sp-pp-cfg-dp, as in SGLang/xDiT (docs/layouts.md#rank-order): TP is innermost
// (adjacent ranks), then SP, then CFG; pp = dp = 1. Inside each SP group the Ulysses subgroups are
// contiguous and the Ring subgroups strided:
//   world_rank = tp_rank + tp * (sp_rank + sp * cfg_rank),   sp_rank = ulysses_rank + ulysses * ring_rank
// Pure arithmetic, no torch: the launcher, the scenario parser and the tests use it freely.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace glmh {

enum class GroupKind { World, Tp, Sp, Ulysses, Ring, Cfg };
const char* group_kind_name(GroupKind kind);
inline constexpr GroupKind kAllGroupKinds[] = {GroupKind::World,   GroupKind::Tp,   GroupKind::Sp,
                                               GroupKind::Ulysses, GroupKind::Ring, GroupKind::Cfg};

// Requested degrees; 0 for ulysses/ring means "not given" (sp = ulysses when neither is given).
struct ParallelDegrees {
  int world_size = 1;
  int tp = 1;
  int sp = 1;
  int ulysses = 0;
  int ring = 0;
  int cfg = 1;
};

// Thrown for a layout that breaks a constraint; the message names the constraint.
class LayoutError : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct RankCoords {
  int tp_rank, sp_rank, ulysses_rank, ring_rank, cfg_rank;
};

class ParallelLayout {
 public:
  // Validates every constraint of docs/layouts.md#refused-layouts. With `attention_heads` also
  // checks heads % tp == 0 and (heads / tp) % ulysses == 0.
  static ParallelLayout create(const ParallelDegrees& requested,
                               std::optional<int> attention_heads = std::nullopt);

  int world_size() const { return world_; }
  int tp() const { return tp_; }
  int sp() const { return sp_; }
  int ulysses() const { return ulysses_; }
  int ring() const { return ring_; }
  int cfg() const { return cfg_; }

  RankCoords coords(int world_rank) const;
  int world_rank(const RankCoords& c) const;
  int size_of(GroupKind kind) const;

  // Every group of `kind`, each listing world ranks in group-rank order.
  std::vector<std::vector<int>> groups(GroupKind kind) const;
  // The group of `kind` that holds `world_rank`, and its index in groups(kind).
  std::vector<int> group_of(GroupKind kind, int world_rank) const;
  int group_index(GroupKind kind, int world_rank) const;

  // e.g. "world 8 = cfg 2 x sp 2 (ulysses 2 x ring 1) x tp 2"
  std::string describe() const;

 private:
  ParallelLayout() = default;
  int world_ = 1, tp_ = 1, sp_ = 1, ulysses_ = 1, ring_ = 1, cfg_ = 1;
};

}  // namespace glmh
