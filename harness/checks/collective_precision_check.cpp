#include "harness/checks/collective_precision_check.h"

#include <string>
#include <vector>

#include "harness/checks/rank_gather.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/rank_context.h"

namespace glmh {

bool wire_dtype_allowed(c10::ScalarType wire, c10::ScalarType run_dtype) {
  if (!c10::isFloatingType(wire)) return true;  // tokens, flags, bytes: exact
  if (wire == at::kDouble || wire == at::kFloat) return true;
  return wire == at::kBFloat16 && run_dtype == at::kBFloat16;
}

CheckResult collective_precision_check(c10::ScalarType run_dtype, RankContext& ctx) {
  const std::string name = "collective_precision";
  std::string mine;
  int64_t floating_calls = 0;
  for (GroupKind kind : kAllGroupKinds) {
    const Communicator& group = ctx.group(kind);
    for (const CollectiveTally& t : group.collective_tallies()) {
      if (c10::isFloatingType(t.dtype)) floating_calls += t.calls;
      if (wire_dtype_allowed(t.dtype, run_dtype)) continue;
      mine += (mine.empty() ? "" : ", ") + t.verb + " on " + group.name() + " carried " + c10::toString(t.dtype) + " (" +
              std::to_string(t.calls) + " calls, " + std::to_string(t.elements) + " elements)";
    }
  }
  Communicator& world = ctx.group(GroupKind::World);
  const std::vector<std::string> reports = gather_strings(world, mine);
  const std::vector<double> calls = gather_values(world, double(floating_calls));
  double total = 0;
  for (double c : calls) total += c;
  int bad = 0;
  const std::string detail = join_rank_reports(reports, &bad);
  const std::string run = c10::toString(run_dtype);
  if (bad > 0)
    return CheckResult::pass_or_fail(name, false, bad, 0, "narrower than the " + run + " run allows: " + detail);
  return CheckResult::pass_or_fail(name, true, 0, 0,
                                   std::to_string(int64_t(total)) + " floating-point collectives on " +
                                       std::to_string(world.size()) + " rank(s), all in dtypes a " + run +
                                       " run allows");
}

}  // namespace glmh
