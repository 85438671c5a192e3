// Every collective the runtime uses, on every group of several layouts (2, 3 and 4 ranks as
// threads, Gloo), against closed-form expected values.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <numeric>

#include "thread_ranks.h"

namespace glmh {
namespace {

using testing::layout_of;
using testing::run_thread_ranks;
using testing::run_thread_ranks_ok;

const auto kF32 = at::TensorOptions().dtype(at::kFloat);

// Checks each collective on group `g`, whose members are world ranks; values are functions of
// the world rank so a rank that talks to the wrong peers gets the wrong numbers.
void check_collectives(Communicator& g, GroupKind kind) {
  const int n = g.size(), i = g.rank(), w = g.members()[i];
  const auto& m = g.members();
  const double member_sum = std::accumulate(m.begin(), m.end(), 0.0);
  const std::string where = std::string(group_kind_name(kind)) + " group, world rank " + std::to_string(w);

  at::Tensor b = at::full({3}, double(w + 1), kF32);
  g.broadcast(b, n - 1);
  EXPECT_TRUE(at::equal(b, at::full({3}, double(m[n - 1] + 1), kF32))) << where;

  at::Tensor s = at::full({2}, double(w + 1), kF32);
  g.all_reduce(s, ReduceOp::Sum);
  EXPECT_TRUE(at::equal(s, at::full({2}, member_sum + n, kF32))) << where;
  at::Tensor mx = at::full({1}, double(w), kF32);
  g.all_reduce(mx, ReduceOp::Max);
  EXPECT_EQ(mx.item<float>(), float(*std::max_element(m.begin(), m.end()))) << where;
  at::Tensor mn = at::full({1}, double(w), at::kLong);
  g.all_reduce(mn, ReduceOp::Min);
  EXPECT_EQ(mn.item<int64_t>(), *std::min_element(m.begin(), m.end())) << where;

  // bf16 (1.13's Gloo reduces it in fp32, moves it as half bits): small integers are exact.
  at::Tensor bf = at::full({4}, double(w + 1), at::kBFloat16);
  g.all_reduce(bf);
  EXPECT_TRUE(at::equal(bf, at::full({4}, member_sum + n, at::kBFloat16))) << where;

  at::Tensor in = at::tensor({double(w), double(w) * 10}, kF32);
  at::Tensor out = at::empty({n * 2}, kF32);
  g.all_gather(out, in);
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(out[2 * r].item<float>(), float(m[r])) << where;
    EXPECT_EQ(out[2 * r + 1].item<float>(), float(m[r] * 10)) << where;
  }
  at::Tensor bf_in = (at::arange(3, kF32) + w * 0.5).to(at::kBFloat16);  // bf16 values moved bit-exactly
  at::Tensor bf_out = at::empty({n, 3}, at::kBFloat16);
  g.all_gather(bf_out, bf_in);
  for (int r = 0; r < n; ++r)
    EXPECT_TRUE(at::equal(bf_out[r], (at::arange(3, kF32) + m[r] * 0.5).to(at::kBFloat16))) << where;

  at::Tensor rs_in = at::arange(n * 3, kF32) + w;
  at::Tensor rs_out = at::empty({3}, kF32);
  g.reduce_scatter_sum(rs_out, rs_in);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(rs_out[j].item<float>(), float(member_sum + n * (i * 3 + j))) << where;

  // all_to_all, equal blocks: block j of rank r is {100 m[r] + j, 100 m[r] + j + 0.5}.
  at::Tensor a2a_in = at::empty({n, 2}, kF32);
  for (int j = 0; j < n; ++j) {
    a2a_in[j][0] = 100.0 * w + j;
    a2a_in[j][1] = 100.0 * w + j + 0.5;
  }
  at::Tensor a2a_out = at::empty({n, 2}, kF32);
  g.all_to_all(a2a_out, a2a_in);
  for (int src = 0; src < n; ++src) {
    EXPECT_EQ(a2a_out[src][0].item<float>(), float(100.0 * m[src] + i)) << where;
    EXPECT_EQ(a2a_out[src][1].item<float>(), float(100.0 * m[src] + i + 0.5)) << where;
  }
  // all_to_all, uneven: rank r sends j + 1 elements of value 1000 r + j to rank j.
  std::vector<int64_t> in_splits, out_splits;
  std::vector<float> send;
  for (int j = 0; j < n; ++j) {
    in_splits.push_back(j + 1);
    out_splits.push_back(i + 1);
    for (int k = 0; k <= j; ++k) send.push_back(1000.0f * i + j);
  }
  at::Tensor u_in = at::tensor(send, kF32);
  at::Tensor u_out = at::empty({n * (i + 1)}, kF32);
  g.all_to_all(u_out, u_in, out_splits, in_splits);
  for (int src = 0; src < n; ++src)
    for (int k = 0; k <= i; ++k)
      EXPECT_EQ(u_out[src * (i + 1) + k].item<float>(), 1000.0f * src + i) << where;

  if (n > 1) {
    // Ring exchange; even ranks send first, odd ranks receive first (Gloo pairs them).
    const int next = (i + 1) % n, prev = (i + n - 1) % n;
    at::Tensor mine = at::full({5}, double(w), kF32), got = at::empty({5}, kF32);
    if (i % 2 == 0) {
      g.send(mine, next, 7);
      g.recv(got, prev, 7);
    } else {
      g.recv(got, prev, 7);
      g.send(mine, next, 7);
    }
    EXPECT_TRUE(at::equal(got, at::full({5}, double(m[prev]), kF32))) << where;
  }

  auto bools = [](int a, int b, int c) { return at::tensor({a, b, c}, at::kByte).to(at::kBool); };
  at::Tensor flags = bools(w % 2 == 0, 1, 0);
  g.broadcast(flags, 0);
  EXPECT_TRUE(at::equal(flags, bools(m[0] % 2 == 0, 1, 0))) << where;

  const std::string text = std::string("from world rank ") + std::to_string(m[0]) + std::string("\0\xff", 2);
  EXPECT_EQ(g.broadcast_bytes(i == 0 ? text : "ignored", 0), text) << where;
  EXPECT_EQ(g.broadcast_bytes("", 0), "") << where;
  g.barrier();
}

struct LayoutCase {
  int world, tp, sp, cfg, ulysses, ring;
};

class Collectives : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(Collectives, EveryCollectiveOnEveryGroup) {
  const auto c = GetParam();
  const auto layout = layout_of(c.world, c.tp, c.sp, c.cfg, c.ulysses, c.ring);
  run_thread_ranks_ok(layout, [](RankContext& ctx) {
    for (GroupKind kind : kAllGroupKinds) check_collectives(ctx.group(kind), kind);
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

TEST(CollectiveErrors, BadTensorsAreRefusedNamingTheCollectiveAndGroup) {
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

TEST(CollectiveErrors, AStalledPeerTimesOutInBoundedTime) {
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

}  // namespace
}  // namespace glmh
