#include "harness/checks/request_equality_check.h"

#include "pipeline/executor/request.h"
#include "pipeline/runtime/rank_context.h"
#include "harness/checks/rank_gather.h"

namespace glmh {

CheckResult request_equality_check(const std::string& snapshot, RankContext& ctx, bool compare_timings) {
  Communicator& world = ctx.group(GroupKind::World);
  const std::string reference = world.broadcast_bytes(snapshot, 0);
  const Request theirs = Request::deserialize(reference, ctx.device());
  const Request mine = Request::deserialize(snapshot, ctx.device());
  const auto diff = mine.differences(theirs, compare_timings);
  const std::string mine_text =
      diff.empty() ? "" : diff.front() + (diff.size() > 1 ? " (+" + std::to_string(diff.size() - 1) + " more)" : "");
  int count = 0;
  const std::string detail = join_rank_reports(gather_strings(world, mine_text), &count);
  return CheckResult::pass_or_fail("request_equality", count == 0, count, 0,
                                   count == 0 ? "request identical field by field on all " +
                                                    std::to_string(world.size()) + " ranks"
                                              : "differs from rank 0 on " + detail);
}

}  // namespace glmh
