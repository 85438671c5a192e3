#include "pipeline/runtime/rank_context.h"

#include "pipeline/runtime/device_sync.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>


#include <algorithm>
#include <chrono>

namespace glmh {

namespace {
std::string stage_key(int rank) { return "stage/" + std::to_string(rank); }
std::string heartbeat_key(int rank) { return "heartbeat/" + std::to_string(rank); }
std::string handoff_key(int64_t seq) { return "handoff/" + std::to_string(seq); }
}  // namespace

RankContext::RankContext(int world_rank, std::shared_ptr<Rendezvous> rendezvous,
                         RankContextOptions options)
    : rank_(world_rank),
      rendezvous_(std::move(rendezvous)),
      options_(std::move(options)),
      log_(world_rank),
      groups_(ProcessGroups::create(*rendezvous_, options_.layout, world_rank, options_.comm)) {
  note_progress();
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

void RankContext::note_progress() const {
  last_progress_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

std::chrono::milliseconds RankContext::stuck_after() const {
  return timeout() + std::max(options_.stuck_grace, timeout() / 2);
}

void RankContext::check_progress() {
  if (!watching_.load()) return;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::nanoseconds(now - last_progress_ns_.load(std::memory_order_relaxed)));
  if (idle < stuck_after()) return;
  std::string stage;
  {
    std::lock_guard<std::mutex> lock(stage_mu_);
    stage = stage_;
  }
  std::string peers;
  try {
    peers = describe_peer_stages();
  } catch (const std::exception&) {
    peers = "(store unreachable)";
  }
  options_.on_stuck("rank " + std::to_string(rank_) + " in stage '" + stage + "' made no progress for " +
                    std::to_string(idle.count() / 1000) + " s (collective timeout " +
                    std::to_string(timeout().count() / 1000) +
                    " s): its main thread is stuck, in a device call behind a collective a peer never joined or in "
                    "its own work" + (peers.empty() ? "" : "; " + peers));
}

RankContext::~RankContext() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mu_);
    stopping_ = true;
  }
  heartbeat_cv_.notify_all();
  heartbeat_.join();
}

void RankContext::heartbeat_loop() {
  const auto period = std::max(std::chrono::milliseconds(50), std::min(std::chrono::milliseconds(1000), timeout() / 8));
  std::unique_lock<std::mutex> lock(heartbeat_mu_);
  while (!stopping_) {
    try {
      rendezvous_->add(heartbeat_key(rank_), 1);
    } catch (const std::exception&) {
      // The store is gone (its host died): the waiting side reports that.
    }
    check_progress();
    heartbeat_cv_.wait_for(lock, period, [this] { return stopping_; });
  }
}

void RankContext::signal_main_rank_done(int64_t seq) { rendezvous_->set(handoff_key(seq), "done"); }

void RankContext::wait_for_main_rank(int64_t seq, const std::string& stage) {
  using Clock = std::chrono::steady_clock;
  const std::string key = handoff_key(seq);
  const std::string beat_key = heartbeat_key(0);
  std::string last_beat;
  auto last_change = Clock::now();
  auto next_beat_check = Clock::now();
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    if (rendezvous_->has(key)) return;
    const auto now = Clock::now();
    if (now >= next_beat_check) {
      // Read-only store calls only: a FileStore appends to its file on every add().
      const std::string beat = rendezvous_->has(beat_key) ? rendezvous_->get(beat_key) : "";
      if (beat != last_beat) {
        last_beat = beat;
        last_change = now;
      } else if (now - last_change > timeout()) {
        throw CommError("rank 0 has sent no heartbeat for " +
                        std::to_string(timeout().count() / 1000) + " s while running stage '" +
                        stage + "' (stopped or dead)");
      }
      next_beat_check = now + std::chrono::milliseconds(250);
    }
    note_progress();  // waiting on rank 0, whose own heartbeat is watched above
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
}

void RankContext::enter_stage(const std::string& stage) {
  {
    std::lock_guard<std::mutex> lock(stage_mu_);
    stage_ = stage;
  }
  note_progress();
  // Loading happens before the first stage and may take minutes without a progress mark.
  watching_ = options_.on_stuck && stage != "startup" && stage != "done";
  if (!options_.status_dir.empty()) {
    // Written to a temporary name and renamed, so the launcher never reads a half-written name.
    const std::string path = options_.status_dir + "/rank-" + std::to_string(rank_) + ".stage";
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      [[maybe_unused]] ssize_t n = ::write(fd, stage.data(), stage.size());
      ::close(fd);
      ::rename(tmp.c_str(), path.c_str());
    }
  }
  try {
    rendezvous_->set(stage_key(rank_), stage);
  } catch (const std::exception&) {
    // The store is diagnostics here; a dead store shows up in the next collective anyway.
  }
}

std::string RankContext::describe_peer_stages() {
  std::string mine;
  {
    std::lock_guard<std::mutex> lock(stage_mu_);  // the watch thread calls this too
    mine = stage_;
  }
  std::string out;
  for (int r = 0; r < world_size(); ++r) {
    if (r == rank_) continue;
    std::string theirs = "(not started)";
    try {
      if (rendezvous_->has(stage_key(r))) theirs = "'" + rendezvous_->get(stage_key(r)) + "'";
    } catch (const std::exception&) {
      theirs = "(unknown: store unreachable)";
    }
    if (theirs == "'" + mine + "'") continue;
    if (!out.empty()) out += "; ";
    out += "rank " + std::to_string(r) + " in " + theirs;
  }
  return out;
}

void RankContext::synchronize_device() const {
  glmh::synchronize_device(device(), timeout(), "rank " + std::to_string(rank_) + " in stage '" + stage_ + "'");
  note_progress();
}

}  // namespace glmh
