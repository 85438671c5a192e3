#include "harness/checks/rank_gather.h"

#include <ATen/ATen.h>

#include "pipeline/runtime/communicator.h"

namespace glmh {

std::vector<std::string> gather_strings(Communicator& group, const std::string& mine) {
  std::vector<std::string> all;
  for (int r = 0; r < group.size(); ++r) all.push_back(group.broadcast_bytes(r == group.rank() ? mine : "", r));
  return all;
}

std::string join_rank_reports(const std::vector<std::string>& reports, int* count) {
  std::string joined;
  int n = 0;
  for (size_t r = 0; r < reports.size(); ++r) {
    if (reports[r].empty()) continue;
    ++n;
    joined += (joined.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + ": " + reports[r];
  }
  if (count) *count = n;
  return joined;
}

std::vector<double> gather_values(Communicator& group, double mine) {
  const c10::Device device = group.options().device;
  at::Tensor in = at::full({1}, mine, at::TensorOptions().dtype(at::kDouble).device(device));
  at::Tensor out = at::empty({group.size()}, in.options());
  group.all_gather(out, in);
  group.wait_for_device("gathering a check's values");
  const at::Tensor host = out.cpu();
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + group.size());
}

}  // namespace glmh
