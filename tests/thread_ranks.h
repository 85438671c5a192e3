// Ranks as threads of one test process (as in c10d's own C++ tests): each thread builds its own
// RankContext with Gloo process groups on a FileStore at a fresh path, then runs the test body.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/runtime/rank_context.h"
#include "tests/temp_dir.h"

namespace glmh::testing {

// Thread ranks talk through Gloo; a CUDA-wheel build has no gloo headers, so tests that use
// them derive their fixture from this one and are reported as skipped there (the GPU tests run
// ranks as processes instead).
class ThreadRanksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(CommBackend::Gloo)) GTEST_SKIP() << "built without Gloo: no CPU ranks";
  }
};

struct RankOutcome {
  std::exception_ptr error;  // null when the body returned
  std::string message() const {
    if (!error) return "";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "non-standard exception";
  }
};

// Runs `body` on every rank of `layout` and returns each rank's outcome. Fails the test (and
// exits, since a thread cannot be killed) when the ranks have not finished within `limit`.
inline std::vector<RankOutcome> run_thread_ranks(
    const ParallelLayout& layout, const std::function<void(RankContext&)>& body,
    std::chrono::milliseconds collective_timeout = std::chrono::seconds(20),
    std::chrono::seconds limit = std::chrono::seconds(90)) {
  TempDir dir;
  const int n = layout.world_size();
  std::vector<RankOutcome> outcomes(n);
  std::vector<std::future<void>> done;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < n; ++rank) {
    std::packaged_task<void()> task([&, rank] {
      try {
        StoreAddress store;
        store.path = dir.path() + "/store";
        auto rendezvous = Rendezvous::connect(store, rank, n, collective_timeout);
        RankContextOptions options;
        options.layout = layout;
        options.comm.timeout = collective_timeout;
        RankContext ctx(rank, rendezvous, options);
        body(ctx);
      } catch (...) {
        outcomes[rank].error = std::current_exception();
      }
    });
    done.push_back(task.get_future());
    threads.emplace_back(std::move(task));
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto& f : done) {
    if (f.wait_until(deadline) != std::future_status::ready) {
      ADD_FAILURE() << "ranks did not finish within " << limit.count() << " s";
      std::fflush(nullptr);
      std::_Exit(1);  // a hung thread cannot be joined; end the test binary instead of hanging
    }
  }
  for (auto& t : threads) t.join();
  return outcomes;
}

// The same, expecting every rank to succeed.
inline void run_thread_ranks_ok(const ParallelLayout& layout,
                                const std::function<void(RankContext&)>& body) {
  const auto outcomes = run_thread_ranks(layout, body);
  for (size_t r = 0; r < outcomes.size(); ++r)
    EXPECT_FALSE(outcomes[r].error) << "rank " << r << ": " << outcomes[r].message();
}

inline ParallelLayout layout_of(int world, int tp = 1, int sp = 1, int cfg = 1, int ulysses = 0,
                                int ring = 0) {
  ParallelDegrees d;
  d.world_size = world;
  d.tp = tp;
  d.sp = sp;
  d.cfg = cfg;
  d.ulysses = ulysses;
  d.ring = ring;
  return ParallelLayout::create(d);
}

}  // namespace glmh::testing
