// Rank-to-group mapping (order tp-sp-pp-cfg-dp, Ulysses contiguous and Ring strided inside SP)
// and the refused layouts of docs/layouts.md#refused-layouts.
#include <gtest/gtest.h>

#include "pipeline/runtime/parallel_layout.h"

namespace glmh {
namespace {

using Groups = std::vector<std::vector<int>>;

ParallelLayout make(int world, int tp, int sp, int cfg, int ulysses = 0, int ring = 0,
                    std::optional<int> heads = std::nullopt) {
  return ParallelLayout::create({world, tp, sp, ulysses, ring, cfg}, heads);
}

TEST(ParallelLayout, TpIsInnermostThenSpThenCfg) {
  const auto l = make(8, 2, 2, 2);
  EXPECT_EQ(l.groups(GroupKind::Tp), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(l.groups(GroupKind::Sp), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(l.groups(GroupKind::Cfg), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(l.groups(GroupKind::World), (Groups{{0, 1, 2, 3, 4, 5, 6, 7}}));
}

TEST(ParallelLayout, UlyssesContiguousRingStridedInsideSp) {
  // sp 4 = ulysses 2 x ring 2, with tp 2 so that SP peers are strided by 2.
  const auto l = make(8, 2, 4, 1, 2, 2);
  EXPECT_EQ(l.groups(GroupKind::Sp), (Groups{{0, 2, 4, 6}, {1, 3, 5, 7}}));
  EXPECT_EQ(l.groups(GroupKind::Ulysses), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(l.groups(GroupKind::Ring), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  const RankCoords c = l.coords(6);
  EXPECT_EQ(c.tp_rank, 0);
  EXPECT_EQ(c.sp_rank, 3);
  EXPECT_EQ(c.ulysses_rank, 1);
  EXPECT_EQ(c.ring_rank, 1);
  EXPECT_EQ(c.cfg_rank, 0);
}

TEST(ParallelLayout, CoordsRoundTripAndGroupsPartitionTheWorld) {
  for (const auto& l : {make(1, 1, 1, 1), make(3, 1, 3, 1), make(4, 2, 2, 1), make(4, 1, 2, 2),
                        make(8, 1, 4, 2, 1, 4), make(8, 2, 2, 2, 2, 1), make(6, 1, 3, 2)}) {
    for (int r = 0; r < l.world_size(); ++r) EXPECT_EQ(l.world_rank(l.coords(r)), r) << l.describe();
    for (GroupKind kind : kAllGroupKinds) {
      std::vector<int> seen(l.world_size(), 0);
      for (const auto& g : l.groups(kind)) {
        EXPECT_EQ(static_cast<int>(g.size()), l.size_of(kind));
        for (int r : g) ++seen[r];
      }
      for (int r = 0; r < l.world_size(); ++r)
        EXPECT_EQ(seen[r], 1) << group_kind_name(kind) << " in " << l.describe();
    }
  }
}

TEST(ParallelLayout, DefaultsUlyssesToSp) {
  const auto l = make(4, 1, 4, 1);
  EXPECT_EQ(l.ulysses(), 4);
  EXPECT_EQ(l.ring(), 1);
  const auto r = make(4, 1, 4, 1, 0, 2);
  EXPECT_EQ(r.ulysses(), 2);
  EXPECT_EQ(r.ring(), 2);
}

void expect_refused(const ParallelDegrees& d, std::optional<int> heads, const std::string& needle) {
  try {
    ParallelLayout::create(d, heads);
    ADD_FAILURE() << "layout accepted, expected refusal mentioning '" << needle << "'";
  } catch (const LayoutError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ParallelLayout, RefusesLayoutsThatBreakAConstraint) {
  expect_refused({6, 2, 2, 0, 0, 1}, std::nullopt, "world size 6 != cfg 1 x tp 2 x sp 2 = 4");
  expect_refused({4, 1, 4, 2, 3, 1}, std::nullopt, "sp 4 != ulysses 2 x ring 3");
  expect_refused({4, 1, 4, 3, 0, 1}, std::nullopt, "ulysses 3 does not divide sp 4");
  expect_refused({6, 1, 2, 0, 0, 3}, std::nullopt, "cfg must be 1 or 2");
  expect_refused({4, 0, 4, 0, 0, 1}, std::nullopt, "tp must be >= 1");
  expect_refused({2, 2, 1, 0, 0, 1}, 7, "attention heads 7 not divisible by tp 2");
  expect_refused({8, 2, 4, 0, 0, 1}, 12, "TP-local heads 6 (heads 12 / tp 2) not divisible by ulysses 4");
  EXPECT_NO_THROW(ParallelLayout::create({8, 2, 4, 0, 0, 1}, 8));
}

}  // namespace
}  // namespace glmh
