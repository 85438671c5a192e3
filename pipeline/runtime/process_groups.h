// This rank's communicators: world, and its TP, SP, Ulysses, Ring and CFG groups.
#pragma once

#include <array>
#include <memory>

#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/parallel_layout.h"

namespace glmh {

class ProcessGroups {
 public:
  // Collective over the world: every rank calls it with the same layout. Groups are created in
  // one fixed order (world, tp, sp, ulysses, ring, cfg) so that rendezvous never deadlocks, and
  // each group's store prefix names its kind and index ("sp.1").
  static ProcessGroups create(Rendezvous& rendezvous, const ParallelLayout& layout, int world_rank,
                              const CommOptions& options);

  Communicator& get(GroupKind kind) const { return *groups_[static_cast<size_t>(kind)]; }
  Communicator& world() const { return get(GroupKind::World); }
  Communicator& tp() const { return get(GroupKind::Tp); }
  Communicator& sp() const { return get(GroupKind::Sp); }
  Communicator& ulysses() const { return get(GroupKind::Ulysses); }
  Communicator& ring() const { return get(GroupKind::Ring); }
  Communicator& cfg() const { return get(GroupKind::Cfg); }

  // Host time blocked in collectives, summed over this rank's groups.
  double host_seconds_in_collectives() const;

 private:
  std::array<std::shared_ptr<Communicator>, std::size(kAllGroupKinds)> groups_;
};

}  // namespace glmh
