// Everything one rank knows about the run it is part of: who it is, its device, its process
// groups, its log. This is glmh's process group context; nothing else holds mutable global state,
// so several ranks can live as threads of one test process.
#pragma once

#include <c10/core/Device.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/runtime/parallel_layout.h"
#include "pipeline/runtime/process_groups.h"
#include "pipeline/runtime/rank_log.h"
#include "pipeline/runtime/rendezvous.h"

namespace glmh {

struct RankContextOptions {
  ParallelLayout layout = ParallelLayout::create({});
  CommOptions comm;           // backend, device, collective timeout
  std::string status_dir;     // if set, the current stage is mirrored to status_dir/rank-R.stage
  // Called (from another thread) when this rank's main thread has made no progress for longer
  // than stuck_after() inside a stage; it must end the process. Unset: no watch (glmh sets it on
  // CUDA devices, where a collective does not block the host within the timeout).
  std::function<void(const std::string& why)> on_stuck;
  std::chrono::milliseconds stuck_grace{5000};  // stuck_after() = timeout + max(this, timeout / 2)
};

class RankContext {
 public:
  // Collective over the world: connects every process group.
  RankContext(int world_rank, std::shared_ptr<Rendezvous> rendezvous, RankContextOptions options);
  ~RankContext();
  RankContext(const RankContext&) = delete;
  RankContext& operator=(const RankContext&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return options_.layout.world_size(); }
  const ParallelLayout& layout() const { return options_.layout; }
  RankCoords coords() const { return options_.layout.coords(rank_); }
  const c10::Device& device() const { return options_.comm.device; }
  CommBackend backend() const { return options_.comm.backend; }
  const RankLog& log() const { return log_; }
  Rendezvous& rendezvous() const { return *rendezvous_; }

  const ProcessGroups& groups() const { return groups_; }
  Communicator& group(GroupKind kind) const { return groups_.get(kind); }

  // The stage this rank is in, for error messages and for the launcher that names the stage of a
  // rank that died. Also left in the store as "stage/<rank>" so peers can say who is behind.
  void enter_stage(const std::string& stage);
  const std::string& current_stage() const { return stage_; }
  // "rank 2 in 'denoise'; rank 3 in 'decode'" for the ranks whose stage differs from ours.
  std::string describe_peer_stages();

  // Waits for all work queued on this rank's device (no-op on CPU); used around timed regions
  // and before reading a collective's result on the host. Bounded by timeout(): a collective a
  // peer never joined surfaces here as a CommError naming the rank and stage.
  void synchronize_device() const;

  // How long a collective may wait for its peers (also how long a silent heartbeat is tolerated).
  std::chrono::milliseconds timeout() const { return options_.comm.timeout; }

  // Progress watch (docs/executor.md#stuck-ranks). On NCCL a collective a peer never joins blocks
  // nothing at first: the host goes on queuing kernels until the launch queue is full and then
  // blocks inside the CUDA runtime, before any bounded device wait is reached. So the main thread
  // marks progress (a stage, an AR token, a denoise step, a finished device wait, a poll of the
  // store), and a watch thread calls options.on_stuck when none came for stuck_after() inside a
  // stage: longer than timeout(), so bounded waits report first where they can.
  void note_progress() const;
  std::chrono::milliseconds stuck_after() const;

  // Main-rank hand-off without a collective: a stage body on world rank 0 may run for minutes
  // (the AR model, the VAE), far longer than a collective may wait. Rank 0 calls
  // signal_main_rank_done(seq) after the body; the others wait_for_main_rank(seq), polling the
  // store, and fail with a clear error if rank 0's heartbeat stops for longer than timeout().
  // `seq` comes from next_handoff() on every rank, in the same order.
  int64_t next_handoff() { return handoff_seq_++; }
  void signal_main_rank_done(int64_t seq);
  void wait_for_main_rank(int64_t seq, const std::string& stage);

 private:
  int rank_;
  std::shared_ptr<Rendezvous> rendezvous_;
  RankContextOptions options_;
  RankLog log_;
  ProcessGroups groups_;
  std::string stage_ = "startup";
  int64_t handoff_seq_ = 0;
  mutable std::atomic<int64_t> last_progress_ns_{0};  // steady clock
  std::atomic<bool> watching_{false};         // inside a stage, on a CUDA device, with on_stuck
  mutable std::mutex stage_mu_;               // stage_ as the watch thread reads it
  void check_progress();

  // A thread that bumps "heartbeat/<rank>" in the store while this rank lives.
  void heartbeat_loop();
  std::mutex heartbeat_mu_;
  std::condition_variable heartbeat_cv_;
  bool stopping_ = false;
  std::thread heartbeat_;
};

}  // namespace glmh
