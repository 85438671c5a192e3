#include "pipeline/runtime/parallel_layout.h"

#include <algorithm>
#include <sstream>

namespace glmh {

const char* group_kind_name(GroupKind kind) {
  switch (kind) {
    case GroupKind::World: return "world";
    case GroupKind::Tp: return "tp";
    case GroupKind::Sp: return "sp";
    case GroupKind::Ulysses: return "ulysses";
    case GroupKind::Ring: return "ring";
    case GroupKind::Cfg: return "cfg";
  }
  return "?";
}

namespace {
void require(bool ok, const std::string& message) {
  if (!ok) throw LayoutError("invalid parallel layout: " + message);
}
}  // namespace

ParallelLayout ParallelLayout::create(const ParallelDegrees& d, std::optional<int> heads) {
  require(d.world_size >= 1, "world size must be >= 1 (got " + std::to_string(d.world_size) + ")");
  require(d.tp >= 1, "tp must be >= 1 (got " + std::to_string(d.tp) + ")");
  require(d.sp >= 1, "sp must be >= 1 (got " + std::to_string(d.sp) + ")");
  require(d.cfg == 1 || d.cfg == 2, "cfg must be 1 or 2 (got " + std::to_string(d.cfg) + ")");
  require(d.ulysses >= 0 && d.ring >= 0, "ulysses and ring must be >= 1 when given");

  ParallelLayout l;
  l.world_ = d.world_size;
  l.tp_ = d.tp;
  l.sp_ = d.sp;
  l.cfg_ = d.cfg;
  if (d.ulysses == 0 && d.ring == 0) {
    l.ulysses_ = d.sp;
    l.ring_ = 1;
  } else if (d.ulysses == 0) {
    require(d.sp % d.ring == 0, "ring " + std::to_string(d.ring) + " does not divide sp " +
                                    std::to_string(d.sp));
    l.ring_ = d.ring;
    l.ulysses_ = d.sp / d.ring;
  } else if (d.ring == 0) {
    require(d.sp % d.ulysses == 0, "ulysses " + std::to_string(d.ulysses) +
                                       " does not divide sp " + std::to_string(d.sp));
    l.ulysses_ = d.ulysses;
    l.ring_ = d.sp / d.ulysses;
  } else {
    l.ulysses_ = d.ulysses;
    l.ring_ = d.ring;
  }
  require(l.ulysses_ * l.ring_ == l.sp_,
          "sp " + std::to_string(l.sp_) + " != ulysses " + std::to_string(l.ulysses_) +
              " x ring " + std::to_string(l.ring_));
  require(l.cfg_ * l.tp_ * l.sp_ == l.world_,
          "world size " + std::to_string(l.world_) + " != cfg " + std::to_string(l.cfg_) +
              " x tp " + std::to_string(l.tp_) + " x sp " + std::to_string(l.sp_) + " = " +
              std::to_string(l.cfg_ * l.tp_ * l.sp_));
  if (heads) {
    require(*heads % l.tp_ == 0, "attention heads " + std::to_string(*heads) +
                                     " not divisible by tp " + std::to_string(l.tp_));
    const int local_heads = *heads / l.tp_;
    require(local_heads % l.ulysses_ == 0,
            "TP-local heads " + std::to_string(local_heads) + " (heads " +
                std::to_string(*heads) + " / tp " + std::to_string(l.tp_) +
                ") not divisible by ulysses " + std::to_string(l.ulysses_));
  }
  return l;
}

RankCoords ParallelLayout::coords(int r) const {
  if (r < 0 || r >= world_) throw std::out_of_range("world rank " + std::to_string(r) + " outside [0, " + std::to_string(world_) + ")");
  RankCoords c{};
  c.tp_rank = r % tp_;
  c.sp_rank = (r / tp_) % sp_;
  c.cfg_rank = r / (tp_ * sp_);
  c.ulysses_rank = c.sp_rank % ulysses_;
  c.ring_rank = c.sp_rank / ulysses_;
  return c;
}

int ParallelLayout::world_rank(const RankCoords& c) const {
  return c.tp_rank + tp_ * (c.sp_rank + sp_ * c.cfg_rank);
}

int ParallelLayout::size_of(GroupKind kind) const {
  switch (kind) {
    case GroupKind::World: return world_;
    case GroupKind::Tp: return tp_;
    case GroupKind::Sp: return sp_;
    case GroupKind::Ulysses: return ulysses_;
    case GroupKind::Ring: return ring_;
    case GroupKind::Cfg: return cfg_;
  }
  return 0;
}

std::vector<int> ParallelLayout::group_of(GroupKind kind, int r) const {
  const RankCoords base = coords(r);
  std::vector<int> members;
  for (int i = 0; i < size_of(kind); ++i) {
    RankCoords c = base;
    switch (kind) {
      case GroupKind::World: members.push_back(i); continue;
      case GroupKind::Tp: c.tp_rank = i; break;
      case GroupKind::Sp: c.sp_rank = i; break;
      case GroupKind::Ulysses: c.sp_rank = i + ulysses_ * base.ring_rank; break;
      case GroupKind::Ring: c.sp_rank = base.ulysses_rank + ulysses_ * i; break;
      case GroupKind::Cfg: c.cfg_rank = i; break;
    }
    members.push_back(world_rank(c));
  }
  return members;
}

std::vector<std::vector<int>> ParallelLayout::groups(GroupKind kind) const {
  std::vector<std::vector<int>> all;
  for (int r = 0; r < world_; ++r) {
    auto g = group_of(kind, r);
    if (std::find(all.begin(), all.end(), g) == all.end()) all.push_back(std::move(g));
  }
  // Order groups by their lowest member, so the index is stable and readable.
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return *std::min_element(a.begin(), a.end()) < *std::min_element(b.begin(), b.end());
  });
  return all;
}

int ParallelLayout::group_index(GroupKind kind, int r) const {
  const auto all = groups(kind);
  const auto mine = group_of(kind, r);
  return static_cast<int>(std::find(all.begin(), all.end(), mine) - all.begin());
}

std::string ParallelLayout::describe() const {
  std::ostringstream s;
  s << "world " << world_ << " = cfg " << cfg_ << " x sp " << sp_ << " (ulysses " << ulysses_
    << " x ring " << ring_ << ") x tp " << tp_;
  return s.str();
}

}  // namespace glmh
