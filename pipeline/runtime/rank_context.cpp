#include "rank_context.h"

#include <fcntl.h>
#include <unistd.h>

#include <torch/cuda.h>

namespace glmh {

namespace {
std::string stage_key(int rank) { return "stage/" + std::to_string(rank); }
}  // namespace

RankContext::RankContext(int world_rank, std::shared_ptr<Rendezvous> rendezvous,
                         RankContextOptions options)
    : rank_(world_rank),
      rendezvous_(std::move(rendezvous)),
      options_(std::move(options)),
      log_(world_rank),
      groups_(ProcessGroups::create(*rendezvous_, options_.layout, world_rank, options_.comm)) {}

void RankContext::enter_stage(const std::string& stage) {
  stage_ = stage;
  if (!options_.status_dir.empty()) {
    // Overwritten in place (one short write) so the launcher always reads a whole name.
    const std::string path = options_.status_dir + "/rank-" + std::to_string(rank_) + ".stage";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      [[maybe_unused]] ssize_t n = ::write(fd, stage.data(), stage.size());
      ::close(fd);
    }
  }
  try {
    rendezvous_->set(stage_key(rank_), stage);
  } catch (const std::exception&) {
    // The store is diagnostics here; a dead store shows up in the next collective anyway.
  }
}

std::string RankContext::describe_peer_stages() {
  std::string out;
  for (int r = 0; r < world_size(); ++r) {
    if (r == rank_) continue;
    std::string theirs = "(not started)";
    try {
      if (rendezvous_->has(stage_key(r))) theirs = "'" + rendezvous_->get(stage_key(r)) + "'";
    } catch (const std::exception&) {
      theirs = "(unknown: store unreachable)";
    }
    if (theirs == "'" + stage_ + "'") continue;
    if (!out.empty()) out += "; ";
    out += "rank " + std::to_string(r) + " in " + theirs;
  }
  return out;
}

void RankContext::synchronize_device() const {
  if (device().is_cuda()) torch::cuda::synchronize(device().index());
}

}  // namespace glmh
