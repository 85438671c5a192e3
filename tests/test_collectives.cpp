// Every collective the runtime uses, on every group of several layouts (2, 3 and 4 ranks as
// threads, Gloo), against closed-form expected values (harness/collective_selftest.cpp); and
// the selftest itself catches a communicator that talks to the wrong peers. On a GPU, NCCL
// collectives captured in a CUDA graph.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <numeric>

#include "harness/checks/collective_selftest.h"
#include "pipeline/runtime/cuda_graph.h"
#include "tests/one_rank_nccl_group.h"
#include "tests/temp_dir.h"
#include "tests/thread_ranks.h"

namespace glmh {
namespace {

using testing::layout_of;
using testing::run_thread_ranks;
using testing::run_thread_ranks_ok;

struct LayoutCase {
  int world, tp, sp, cfg, ulysses, ring;
};

class Collectives : public testing::ThreadRanksTest, public ::testing::WithParamInterface<LayoutCase> {};
class CollectiveSelftestCatches : public testing::ThreadRanksTest {};
class CollectiveErrors : public testing::ThreadRanksTest {};

TEST_P(Collectives, EveryCollectiveOnEveryGroup) {
  const auto c = GetParam();
  const auto layout = layout_of(c.world, c.tp, c.sp, c.cfg, c.ulysses, c.ring);
  run_thread_ranks_ok(layout, [](RankContext& ctx) {
    for (GroupKind kind : kAllGroupKinds) {
      const CollectiveSelftest result = run_collective_selftest(ctx.group(kind));
      EXPECT_GE(result.collectives_run, 12) << group_kind_name(kind);
      EXPECT_EQ(result.failures, std::vector<std::string>{}) << group_kind_name(kind) << " group, rank " << ctx.rank();
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Layouts, Collectives,
                         ::testing::Values(LayoutCase{2, 1, 2, 1, 0, 0}, LayoutCase{2, 2, 1, 1, 0, 0},
                                           LayoutCase{3, 1, 3, 1, 0, 0}, LayoutCase{4, 2, 2, 1, 0, 0},
                                           LayoutCase{4, 1, 2, 2, 0, 0}, LayoutCase{4, 1, 4, 1, 2, 2}),
                         [](const auto& info) {
                           const auto& c = info.param;
                           return "w" + std::to_string(c.world) + "_tp" + std::to_string(c.tp) +
                                  "_sp" + std::to_string(c.sp) + "_cfg" + std::to_string(c.cfg) +
                                  "_u" + std::to_string(c.ulysses) + "_r" + std::to_string(c.ring);
                         });

TEST_F(CollectiveSelftestCatches, AGroupWiredToTheWrongPeer) {
  // World ranks 0 and 2 form a group, but rank 2 believes its peer is world rank 1 (a group
  // built from a wrong rank table). The selftest must fail there, and only there.
  std::vector<std::vector<std::string>> failures(4);
  run_thread_ranks_ok(layout_of(4, 1, 4), [&](RankContext& ctx) {
    const std::vector<std::vector<int>> believed{{0, 2}, {1, 3}, {1, 2}, {1, 3}};
    const std::string name = ctx.rank() % 2 == 0 ? "wired.even" : "wired.odd";
    auto group = Communicator::create(ctx.rendezvous(), name, ctx.rank(), believed[ctx.rank()],
                                      ctx.group(GroupKind::World).options());
    failures[ctx.rank()] = run_collective_selftest(*group).failures;
  });
  EXPECT_TRUE(failures[0].empty()) << ::testing::PrintToString(failures[0]);
  EXPECT_TRUE(failures[1].empty()) << ::testing::PrintToString(failures[1]);
  EXPECT_TRUE(failures[3].empty()) << ::testing::PrintToString(failures[3]);
  ASSERT_FALSE(failures[2].empty());
  EXPECT_NE(failures[2][0].find("on group 'wired.even' (group rank 1)"), std::string::npos) << failures[2][0];
}

TEST_F(CollectiveErrors, BadTensorsAreRefusedNamingTheCollectiveAndGroup) {
  run_thread_ranks_ok(layout_of(2, 1, 2), [](RankContext& ctx) {
    Communicator& sp = ctx.group(GroupKind::Sp);
    at::Tensor t = at::zeros({4, 4}).t();
    try {
      sp.all_reduce(t);
      ADD_FAILURE() << "non-contiguous tensor accepted";
    } catch (const CommError& e) {
      EXPECT_NE(std::string(e.what()).find("collective all_reduce(sum) on group 'sp.0'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not contiguous"), std::string::npos) << e.what();
    }
    at::Tensor out = at::empty({3});
    EXPECT_THROW(sp.all_gather(out, at::zeros({2})), CommError);
    sp.barrier();  // the group is still usable
  });
}

TEST_F(CollectiveErrors, AStalledPeerTimesOutInBoundedTime) {
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = run_thread_ranks(
      layout_of(2, 1, 2),
      [](RankContext& ctx) {
        if (ctx.rank() == 1) {
          std::this_thread::sleep_for(std::chrono::seconds(4));  // misses rank 0's barrier
          return;
        }
        ctx.group(GroupKind::World).barrier();
      },
      std::chrono::milliseconds(1500));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(outcomes[0].error);
  EXPECT_NE(outcomes[0].message().find("collective barrier on group 'world.0'"), std::string::npos)
      << outcomes[0].message();
  EXPECT_NE(outcomes[0].message().find("Timed out"), std::string::npos) << outcomes[0].message();
  EXPECT_LT(seconds, 15.0);
}

// The tensor-parallel AR decode step is replayed as a CUDA graph holding its NCCL collectives
// (docs/performance.md#cuda-graphs): captured once, every replay must reduce and gather that
// replay's data. One rank on one GPU (NCCL runs a one-rank communicator); the 2-GPU runs check
// the ranks' matching.
TEST(CollectivesInCudaGraphs, NcclCollectivesCapturedOnceWorkOnEachReplaysData) {
  testing::TempDir dir;
  const auto group = testing::one_rank_nccl_group(dir.path(), "graph");
  if (!group) GTEST_SKIP() << "no NCCL or no CUDA device";
  ASSERT_TRUE(group->captures_in_cuda_graphs());
  const c10::Device gpu(c10::kCUDA, 0);

  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(gpu);
  at::Tensor x = at::zeros({4096}, bf16), gathered = at::empty({4096}, bf16);
  auto step = [&] {
    at::Tensor y = x * 2;  // from the graph's pool while capturing
    group->all_reduce(y);
    group->all_gather(gathered, y);
  };
  step();  // eagerly first, as a capture needs
  CudaGraph graph;
  graph.capture(gpu, step);
  for (int replay = 1; replay <= 3; ++replay) {
    x.fill_(double(replay));
    graph.replay();
    const at::Tensor want = at::full({4096}, 2.0 * replay, bf16.device(at::kCPU));
    EXPECT_TRUE(at::equal(gathered.cpu(), want)) << "replay " << replay;
  }
  group->barrier();  // still usable eagerly after the replays
}

}  // namespace
}  // namespace glmh
