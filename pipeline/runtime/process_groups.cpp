#include "pipeline/runtime/process_groups.h"

namespace glmh {

ProcessGroups ProcessGroups::create(Rendezvous& rendezvous, const ParallelLayout& layout,
                                    int world_rank, const CommOptions& options) {
  ProcessGroups pgs;
  for (GroupKind kind : kAllGroupKinds) {
    const std::string name = std::string(group_kind_name(kind)) + "." +
                             std::to_string(layout.group_index(kind, world_rank));
    pgs.groups_[static_cast<size_t>(kind)] = Communicator::create(
        rendezvous, name, world_rank, layout.group_of(kind, world_rank), options);
  }
  return pgs;
}

double ProcessGroups::host_seconds_in_collectives() const {
  double total = 0;
  for (const auto& g : groups_) total += g->host_seconds_in_collectives();
  return total;
}

}  // namespace glmh
