#include "harness/checks/token_equality_check.h"

#include <ATen/ATen.h>

#include "pipeline/runtime/rank_context.h"
#include "harness/checks/rank_gather.h"

namespace glmh {

namespace {

// How this rank's tokens differ from the reference's: "" when equal.
std::string against_reference(const at::Tensor& mine, const at::Tensor& reference) {
  const at::Tensor a = mine.reshape({-1}).to(at::kLong).cpu(), b = reference.reshape({-1}).to(at::kLong).cpu();
  if (a.numel() != b.numel())
    return "holds " + std::to_string(a.numel()) + " prior tokens, the single-rank run " + std::to_string(b.numel());
  const at::Tensor differ = a != b;
  const int64_t count = differ.sum().item<int64_t>();
  if (count == 0) return "";
  const int64_t first = differ.nonzero()[0][0].item<int64_t>();
  return std::to_string(count) + " of " + std::to_string(a.numel()) + " tokens differ from the single-rank run's, first at position " +
         std::to_string(first) + " (" + std::to_string(a[first].item<int64_t>()) + " instead of " +
         std::to_string(b[first].item<int64_t>()) + ")";
}

}  // namespace

CheckResult token_equality_check(const at::Tensor& tokens, const TokenReference& reference, RankContext& ctx,
                                 TokenEqualityOutcome* outcome) {
  TokenEqualityOutcome ignored;
  TokenEqualityOutcome& out = outcome ? *outcome : ignored;
  out = {};
  bool& must_stop = out.stop;
  const std::string name = "token_equality";
  Communicator& world = ctx.group(GroupKind::World);
  const int n = world.size();
  // Sizes first: a rank without tokens, or with a different count, cannot take part in the gather.
  const std::vector<double> counts = gather_values(world, tokens.defined() ? double(tokens.numel()) : -1.0);
  std::vector<std::string> problems(n);
  for (int r = 0; r < n; ++r) {
    if (counts[r] < 0) must_stop = true;
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
  if (bad > 0) return CheckResult::pass_or_fail(name, false, bad, 0, detail);
  const std::string same = "prior tokens identical on all " + std::to_string(n) + " ranks (" +
                           std::to_string(int64_t(counts[0])) + " tokens)";
  if (!reference.tokens.defined()) return CheckResult::pass_or_fail(name, true, 0, 0, same + "; no single-rank run to compare with");
  // Every rank holds the same tokens: rank 0's comparison speaks for all.
  const std::string differs = against_reference(tokens, reference.tokens);
  if (!differs.empty()) {
    TokenDivergenceVerdict verdict;
    if (reference.explain) verdict = reference.explain();
    const std::string why = verdict.text.empty() ? "" : "; " + verdict.text;
    if (!reference.not_comparable.empty() && verdict.numerics) {
      out.use_reference_tokens = true;
      return CheckResult::pass_or_fail(name, true, 0, 0,
                                       same + "; " + differs + why + "; allowed for " + reference.not_comparable +
                                           ": the run goes on with the single-rank run's tokens, so that output_parity "
                                           "checks everything after the AR stage");
    }
    must_stop = true;
    return CheckResult::pass_or_fail(name, false, n, 0, "on every rank: " + differs + why);
  }
  return CheckResult::pass_or_fail(name, true, 0, 0, same + ", equal to the single-rank run's");
}

}  // namespace glmh
