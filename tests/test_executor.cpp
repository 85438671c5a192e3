// ParallelExecutor semantics (docs/executor.md#stage-types) on 2, 3 and 4 thread ranks: who runs
// each kind of stage, what reaches the other ranks, error propagation, timings.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "pipeline/executor/parallel_executor.h"
#include "pipeline/executor/request.h"
#include "tests/thread_ranks.h"

namespace glmh {
namespace {

using testing::layout_of;
using testing::run_thread_ranks;
using testing::run_thread_ranks_ok;

class LambdaStage final : public Stage {
 public:
  using Body = std::function<void(Request&, RankContext&)>;
  LambdaStage(std::string name, StageParallelism p, Body body)
      : name_(std::move(name)), parallelism_(p), body_(std::move(body)) {}
  std::string name() const override { return name_; }
  StageParallelism parallelism() const override { return parallelism_; }
  void run(Request& r, RankContext& ctx) override { body_(r, ctx); }

 private:
  std::string name_;
  StageParallelism parallelism_;
  Body body_;
};

std::vector<std::unique_ptr<Stage>> one_stage(std::string name, StageParallelism p, LambdaStage::Body body) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<LambdaStage>(std::move(name), p, std::move(body)));
  return stages;
}

// A request every rank starts from, with its world rank in it so that propagation is visible.
Request rank_specific_request(int rank) {
  Request r;
  r.set_int("who", rank);
  r.set_tensor("band", at::full({2}, double(rank)), FieldScope::RankLocal);
  r.set_generator(Request::make_generator(c10::Device(c10::kCPU), 1000 + rank));
  return r;
}

void ar_like_body(Request& r, RankContext& ctx) {
  r.set_tensor("prior_token_ids", at::randint(1000, {64}, r.generator(), at::kLong));
  r.set_string("prompt", "a cat");
  r.set_double("guidance", 1.5);
  r.set_int("ran_on", ctx.rank());
}

struct LayoutCase {
  int world, tp, sp, cfg;
};
class SendToOthers : public testing::ThreadRanksTest, public ::testing::WithParamInterface<LayoutCase> {};
class Executor : public testing::ThreadRanksTest {};

TEST_P(SendToOthers, EveryRankAdoptsRankZerosRequestFieldByField) {
  const auto c = GetParam();
  const auto layout = layout_of(c.world, c.tp, c.sp, c.cfg);
  std::atomic<int> bodies{0};
  std::vector<Request> after(c.world);
  std::vector<at::Tensor> next_draw(c.world);
  const auto stages = [&] {
    return one_stage("ar", StageParallelism::MainRankOnlyAndSendToOthers, [&](Request& r, RankContext& ctx) {
      ++bodies;
      ar_like_body(r, ctx);
    });
  };
  run_thread_ranks_ok(layout, [&](RankContext& ctx) {
    Request r = rank_specific_request(ctx.rank());
    ParallelExecutor(ctx).execute(stages(), r);
    next_draw[ctx.rank()] = at::randn({8}, r.generator());
    after[ctx.rank()] = Request::deserialize(r.serialize(), c10::Device(c10::kCPU));
  });
  // World rank 0 alone ran the body, even where several ranks are CFG rank 0.
  EXPECT_EQ(bodies.load(), 1);
  for (int r = 1; r < c.world; ++r) {
    EXPECT_EQ(after[r].differences(after[0], /*compare_timings=*/true), std::vector<std::string>{}) << "rank " << r;
    // The generator continues where rank 0 left it, on every rank.
    EXPECT_TRUE(at::equal(next_draw[r], next_draw[0])) << "rank " << r;
  }
  EXPECT_EQ(after[c.world - 1].get_int("who"), 0);
  EXPECT_EQ(after[c.world - 1].get_int("ran_on"), 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, SendToOthers,
                         ::testing::Values(LayoutCase{2, 1, 2, 1}, LayoutCase{3, 1, 3, 1},
                                           LayoutCase{4, 2, 2, 1}, LayoutCase{4, 1, 2, 2},
                                           LayoutCase{4, 2, 1, 2}));

TEST_F(Executor, MainRankOnlyRunsOnRankZeroAndDoesNotPropagate) {
  std::atomic<int> bodies{0};
  std::vector<bool> has_field(3);
  run_thread_ranks_ok(layout_of(3, 1, 3), [&](RankContext& ctx) {
    Request r = rank_specific_request(ctx.rank());
    ParallelExecutor exec(ctx);
    exec.execute(one_stage("decode", StageParallelism::MainRankOnly, [&](Request& req, RankContext&) {
                   ++bodies;
                   req.set_string("image", "png bytes");
                 }),
                 r);
    has_field[ctx.rank()] = r.has("image");
    EXPECT_EQ(r.get_int("who"), ctx.rank());
    EXPECT_EQ(exec.records().at(0).ran_here, ctx.rank() == 0);
  });
  EXPECT_EQ(bodies.load(), 1);
  EXPECT_EQ(has_field, (std::vector<bool>{true, false, false}));
}

TEST_F(Executor, CfgParallelBroadcastsInsideEachCfgGroupAndKeepsRankLocalFields) {
  // world 4 = cfg 2 x sp 2: CFG groups {0, 2} and {1, 3}.
  std::vector<int64_t> who_seen(4, -1);
  std::vector<double> band_seen(4, -1);
  std::atomic<int> bodies{0};
  run_thread_ranks_ok(layout_of(4, 1, 2, 2), [&](RankContext& ctx) {
    Request r = rank_specific_request(ctx.rank());
    ParallelExecutor(ctx).execute(one_stage("denoise", StageParallelism::CfgParallel,
                                            [&](Request& req, RankContext& c) {
                                              ++bodies;
                                              who_seen[c.rank()] = req.get_int("who");
                                              band_seen[c.rank()] = req.tensor("band")[0].item<double>();
                                            }),
                                  r);
  });
  EXPECT_EQ(bodies.load(), 4);
  EXPECT_EQ(who_seen, (std::vector<int64_t>{0, 1, 0, 1}));        // from each CFG group's first rank
  EXPECT_EQ(band_seen, (std::vector<double>{0, 1, 2, 3}));        // rank-local: each rank's own
}

TEST_F(Executor, ReplicatedRunsOnEveryRankOnItsOwnRequest) {
  std::atomic<int> bodies{0};
  run_thread_ranks_ok(layout_of(2, 1, 2), [&](RankContext& ctx) {
    Request r = rank_specific_request(ctx.rank());
    ParallelExecutor exec(ctx);
    exec.execute(one_stage("prepare", StageParallelism::Replicated, [&](Request& req, RankContext& c) {
                   ++bodies;
                   req.set_int("mine", c.rank() * 10);
                 }),
                 r);
    EXPECT_EQ(r.get_int("mine"), ctx.rank() * 10);
    EXPECT_EQ(r.get_int("who"), ctx.rank());
    ASSERT_EQ(r.timings().size(), 1u);
    EXPECT_EQ(r.timings()[0].stage, "prepare");
    EXPECT_GT(exec.records()[0].body_seconds, 0.0);
  });
  EXPECT_EQ(bodies.load(), 2);
}

class MainRankErrors : public testing::ThreadRanksTest, public ::testing::WithParamInterface<StageParallelism> {};

TEST_P(MainRankErrors, AnErrorOnRankZeroIsRaisedOnEveryRank) {
  const auto outcomes = run_thread_ranks(layout_of(3, 1, 3), [&](RankContext& ctx) {
    Request r = rank_specific_request(ctx.rank());
    ParallelExecutor(ctx).execute(one_stage("ar", GetParam(), [](Request&, RankContext&) {
                                    throw std::runtime_error("checkpoint shard 3 is truncated");
                                  }),
                                  r);
  });
  for (size_t rank = 0; rank < outcomes.size(); ++rank) {
    ASSERT_TRUE(outcomes[rank].error) << "rank " << rank << " did not raise";
    try {
      std::rethrow_exception(outcomes[rank].error);
    } catch (const StageError& e) {
      EXPECT_EQ(e.stage(), "ar");
      EXPECT_EQ(e.origin_rank(), 0);
      EXPECT_NE(std::string(e.what()).find("failed on rank 0"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("checkpoint shard 3 is truncated"), std::string::npos) << e.what();
    } catch (...) {
      ADD_FAILURE() << "rank " << rank << " raised something other than StageError";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, MainRankErrors,
                         ::testing::Values(StageParallelism::MainRankOnlyAndSendToOthers,
                                           StageParallelism::MainRankOnly));

TEST_F(Executor, ARankThatLeavesMidRunEndsItsPeersInBoundedTimeNamingTheStages) {
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = run_thread_ranks(
      layout_of(2, 1, 2),
      [&](RankContext& ctx) {
        Request r = rank_specific_request(ctx.rank());
        std::vector<std::unique_ptr<Stage>> stages;
        stages.push_back(std::make_unique<LambdaStage>(
            "encode", StageParallelism::Replicated, [](Request&, RankContext& c) {
              if (c.rank() == 1) throw std::runtime_error("out of memory");
            }));
        stages.push_back(std::make_unique<LambdaStage>("ar", StageParallelism::MainRankOnlyAndSendToOthers,
                                                       ar_like_body));
        ParallelExecutor(ctx).execute(stages, r);
      },
      std::chrono::milliseconds(1500));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(outcomes[1].error);
  EXPECT_NE(outcomes[1].message().find("stage 'encode' failed on rank 1: out of memory"), std::string::npos)
      << outcomes[1].message();
  ASSERT_TRUE(outcomes[0].error);
  EXPECT_NE(outcomes[0].message().find("stage 'ar': collective barrier on group 'world.0'"), std::string::npos)
      << outcomes[0].message();
  EXPECT_NE(outcomes[0].message().find("peers: rank 1 in 'encode'"), std::string::npos) << outcomes[0].message();
  EXPECT_LT(seconds, 15.0);
}

TEST_F(Executor, AMainThreadWithoutProgressIsReportedByTheWatch) {
  // What ends an NCCL run whose host blocks in the CUDA runtime behind a collective a peer never
  // joined: no progress mark inside a stage for timeout + grace calls on_stuck, naming rank and stage.
  testing::TempDir dir;
  StoreAddress store;
  store.path = dir.path() + "/store";
  std::mutex mu;
  std::vector<std::string> reports;
  RankContextOptions options;
  options.layout = testing::layout_of(1);
  options.comm.timeout = std::chrono::seconds(1);
  options.stuck_grace = std::chrono::seconds(1);
  options.on_stuck = [&](const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    reports.push_back(why);
  };
  RankContext ctx(0, Rendezvous::connect(store, 0, 1, options.comm.timeout), options);
  EXPECT_EQ(ctx.stuck_after(), std::chrono::seconds(2));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // loading, before any stage: not watched
  ctx.enter_stage("glm_image.denoising");
  for (int i = 0; i < 15; ++i) {  // 3 s of steady progress
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ctx.note_progress();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(reports.empty()) << reports.front();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // stuck
  ctx.enter_stage("done");
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(reports.empty());
  EXPECT_NE(reports.front().find("rank 0 in stage 'glm_image.denoising' made no progress for 2 s (collective timeout 1 s)"),
            std::string::npos) << reports.front();
}

TEST_F(Executor, CfgParallelDoesNotLeakTheSendersRankLocalFields) {
  std::vector<bool> has_branch(2);
  run_thread_ranks_ok(layout_of(2, 1, 1, 2), [&](RankContext& ctx) {
    Request r;
    r.set_int("steps", 4);
    if (ctx.rank() == 0) r.set_tensor("branch", at::ones({1}), FieldScope::RankLocal);
    ParallelExecutor(ctx).execute(one_stage("denoise", StageParallelism::CfgParallel, [](Request&, RankContext&) {}), r);
    has_branch[ctx.rank()] = r.has("branch");
  });
  EXPECT_EQ(has_branch, (std::vector<bool>{true, false}));
}

class MainRankBodies : public testing::ThreadRanksTest,
                       public ::testing::WithParamInterface<StageParallelism> {};

TEST_P(MainRankBodies, MayRunLongerThanTheCollectiveTimeout) {
  // The AR model or the VAE decode on rank 0 takes minutes; the other ranks wait on the store
  // (watching rank 0's heartbeat), not inside a collective that would time out.
  const auto outcomes = run_thread_ranks(
      layout_of(3, 1, 3),
      [&](RankContext& ctx) {
        Request r = rank_specific_request(ctx.rank());
        ParallelExecutor(ctx).execute(one_stage("ar", GetParam(), [](Request& req, RankContext& c) {
                                        std::this_thread::sleep_for(std::chrono::milliseconds(3000));
                                        ar_like_body(req, c);
                                      }),
                                      r);
      },
      std::chrono::milliseconds(1000));
  for (size_t rank = 0; rank < outcomes.size(); ++rank)
    EXPECT_FALSE(outcomes[rank].error) << "rank " << rank << ": " << outcomes[rank].message();
}

INSTANTIATE_TEST_SUITE_P(Kinds, MainRankBodies,
                         ::testing::Values(StageParallelism::MainRankOnlyAndSendToOthers,
                                           StageParallelism::MainRankOnly));

TEST_F(Executor, HooksRunAroundEveryStageOnEveryRank) {
  std::mutex mu;
  std::vector<std::string> events;
  run_thread_ranks_ok(layout_of(2, 1, 2), [&](RankContext& ctx) {
    ExecutorHooks hooks;
    hooks.before_stage = [&](const Stage& s, RankContext& c) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back(std::to_string(c.rank()) + ":before:" + s.name());
    };
    hooks.after_stage = [&](const Stage& s, Request&, RankContext& c) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back(std::to_string(c.rank()) + ":after:" + s.name());
    };
    Request r = rank_specific_request(ctx.rank());
    ParallelExecutor(ctx, hooks).execute(one_stage("ar", StageParallelism::MainRankOnlyAndSendToOthers, ar_like_body), r);
  });
  std::sort(events.begin(), events.end());
  EXPECT_EQ(events, (std::vector<std::string>{"0:after:ar", "0:before:ar", "1:after:ar", "1:before:ar"}));
}

}  // namespace
}  // namespace glmh
