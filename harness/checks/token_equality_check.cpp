#include "harness/checks/token_equality_check.h"

#include <ATen/ATen.h>

#include "pipeline/runtime/rank_context.h"
#include "harness/checks/rank_gather.h"

namespace glmh {

CheckResult token_equality_check(const at::Tensor& tokens, RankContext& ctx) {
  const std::string name = "token_equality";
  Communicator& world = ctx.group(GroupKind::World);
  const int n = world.size();
  // Sizes first: a rank without tokens, or with a different count, cannot take part in the gather.
  const std::vector<double> counts = gather_values(world, tokens.defined() ? double(tokens.numel()) : -1.0);
  std::vector<std::string> problems(n);
  for (int r = 0; r < n; ++r) {
    if (counts[r] < 0)
      problems[r] = "holds no prior tokens (the AR stage's result never reached it)";
    else if (counts[r] != counts[0] && counts[0] >= 0)
      problems[r] = "holds " + std::to_string(int64_t(counts[r])) + " prior tokens, rank 0 " +
                    std::to_string(int64_t(counts[0]));
  }
  int bad = 0;
  std::string detail = join_rank_reports(problems, &bad);
  if (bad == 0 && counts[0] >= 0) {
    const at::Tensor mine = tokens.reshape({-1}).to(at::kLong).contiguous();
    at::Tensor all = at::empty({n, mine.numel()}, mine.options());
    world.all_gather(all, mine);
    ctx.synchronize_device();
    const at::Tensor rows = all.cpu();
    for (int r = 1; r < n; ++r) {
      if (at::equal(rows[r], rows[0])) continue;
      const int64_t differing = (rows[r] != rows[0]).sum().item<int64_t>();
      problems[r] = std::to_string(differing) + " of " + std::to_string(mine.numel()) + " tokens differ from rank 0's";
    }
    detail = join_rank_reports(problems, &bad);
  }
  if (bad == 0)
    return CheckResult::pass_or_fail(name, true, 0, 0,
                                     "prior tokens identical on all " + std::to_string(n) + " ranks (" +
                                         std::to_string(int64_t(counts[0])) + " tokens)");
  return CheckResult::pass_or_fail(name, false, bad, 0, detail);
}

}  // namespace glmh
