#include "harness/checks/collective_selftest.h"

#include <ATen/ATen.h>

#include <numeric>
#include <sstream>

#include "pipeline/runtime/communicator.h"

namespace glmh {

namespace {

class Checker {
 public:
  Checker(Communicator& g, CollectiveSelftest& out) : g_(g), out_(out) {}

  // Compares on the CPU, exactly: every expected value here is exactly representable.
  void equal(const std::string& what, const at::Tensor& got, const at::Tensor& want) {
    g_.wait_for_device(what);
    const at::Tensor a = got.cpu(), b = want.cpu();
    if (a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && at::equal(a, b)) return;
    std::ostringstream s;
    s << what << " on group '" << g_.name() << "' (group rank " << g_.rank() << "): got [";
    for (int64_t i = 0; i < std::min<int64_t>(a.numel(), 8); ++i)
      s << (i ? ", " : "") << a.to(at::kDouble).view({-1})[i].item<double>();
    s << "], expected [";
    for (int64_t i = 0; i < std::min<int64_t>(b.numel(), 8); ++i)
      s << (i ? ", " : "") << b.to(at::kDouble).view({-1})[i].item<double>();
    s << "]";
    out_.failures.push_back(s.str());
  }
  void count() { ++out_.collectives_run; }

 private:
  Communicator& g_;
  CollectiveSelftest& out_;
};

}  // namespace

CollectiveSelftest run_collective_selftest(Communicator& g) {
  CollectiveSelftest result;
  Checker check(g, result);
  const int n = g.size(), i = g.rank(), w = g.members()[i];
  const auto& m = g.members();
  const double member_sum = std::accumulate(m.begin(), m.end(), 0.0);
  const auto dev = at::TensorOptions().device(g.options().device);
  const auto f32 = dev.dtype(at::kFloat);
  const auto cpu_f32 = at::TensorOptions().dtype(at::kFloat);

  at::Tensor b = at::full({3}, double(w + 1), f32);
  g.broadcast(b, n - 1);
  check.count();
  check.equal("broadcast(root " + std::to_string(n - 1) + ")", b, at::full({3}, double(m[n - 1] + 1), cpu_f32));

  at::Tensor s = at::full({2}, double(w + 1), f32);
  g.all_reduce(s, ReduceOp::Sum);
  check.count();
  check.equal("all_reduce(sum)", s, at::full({2}, member_sum + n, cpu_f32));
  at::Tensor mx = at::full({1}, double(w), f32);
  g.all_reduce(mx, ReduceOp::Max);
  check.count();
  check.equal("all_reduce(max)", mx, at::full({1}, double(*std::max_element(m.begin(), m.end())), cpu_f32));
  at::Tensor mn = at::full({1}, double(w), dev.dtype(at::kLong));
  g.all_reduce(mn, ReduceOp::Min);
  check.count();
  check.equal("all_reduce(min, int64)", mn, at::full({1}, double(*std::min_element(m.begin(), m.end())), at::kLong));
  // bf16: small integers are exact whichever way the backend sums.
  at::Tensor bf = at::full({4}, double(w + 1), dev.dtype(at::kBFloat16));
  g.all_reduce(bf);
  check.count();
  check.equal("all_reduce(sum, bf16)", bf, at::full({4}, member_sum + n, at::kBFloat16));

  at::Tensor in = at::tensor({double(w), double(w) * 10}, cpu_f32).to(g.options().device);
  at::Tensor out = at::empty({n * 2}, f32);
  g.all_gather(out, in);
  at::Tensor want = at::empty({n * 2}, cpu_f32);
  for (int r = 0; r < n; ++r) {
    want[2 * r] = double(m[r]);
    want[2 * r + 1] = double(m[r]) * 10;
  }
  check.count();
  check.equal("all_gather", out, want);
  at::Tensor bf_in = (at::arange(3, cpu_f32) + w * 0.5).to(at::kBFloat16).to(g.options().device);
  at::Tensor bf_out = at::empty({n, 3}, dev.dtype(at::kBFloat16));
  g.all_gather(bf_out, bf_in);
  at::Tensor bf_want = at::empty({n, 3}, at::kBFloat16);
  for (int r = 0; r < n; ++r) bf_want[r] = (at::arange(3, cpu_f32) + m[r] * 0.5).to(at::kBFloat16);
  check.count();
  check.equal("all_gather(bf16)", bf_out, bf_want);

  at::Tensor rs_in = at::arange(n * 3, f32) + w;
  at::Tensor rs_out = at::empty({3}, f32);
  g.reduce_scatter_sum(rs_out, rs_in);
  at::Tensor rs_want = at::empty({3}, cpu_f32);
  for (int j = 0; j < 3; ++j) rs_want[j] = member_sum + n * (i * 3 + j);
  check.count();
  check.equal("reduce_scatter(sum)", rs_out, rs_want);

  // all_to_all, equal blocks: block j of rank r holds {100 m[r] + j, 100 m[r] + j + 0.5}.
  at::Tensor a2a_in = at::empty({n, 2}, cpu_f32), a2a_want = at::empty({n, 2}, cpu_f32);
  for (int j = 0; j < n; ++j) {
    a2a_in[j][0] = 100.0 * w + j;
    a2a_in[j][1] = 100.0 * w + j + 0.5;
    a2a_want[j][0] = 100.0 * m[j] + i;
    a2a_want[j][1] = 100.0 * m[j] + i + 0.5;
  }
  a2a_in = a2a_in.to(g.options().device);
  at::Tensor a2a_out = at::empty({n, 2}, f32);
  g.all_to_all(a2a_out, a2a_in);
  check.count();
  check.equal("all_to_all", a2a_out, a2a_want);
  // all_to_all, uneven: rank r sends j + 1 elements of value 1000 m[r] + j to rank j.
  std::vector<int64_t> in_splits, out_splits;
  std::vector<float> send, expect;
  for (int j = 0; j < n; ++j) {
    in_splits.push_back(j + 1);
    out_splits.push_back(i + 1);
    for (int k = 0; k <= j; ++k) send.push_back(1000.0f * w + j);
    for (int k = 0; k <= i; ++k) expect.push_back(1000.0f * m[j] + i);
  }
  at::Tensor u_out = at::empty({n * (i + 1)}, f32);
  g.all_to_all(u_out, at::tensor(send, cpu_f32).to(g.options().device), out_splits, in_splits);
  check.count();
  check.equal("all_to_all(uneven splits)", u_out, at::tensor(expect, cpu_f32));

  if (n > 1) {
    // A ring exchange; even ranks send first and odd ranks receive first, so that blocking
    // point-to-point pairs up on every backend.
    const int next = (i + 1) % n, prev = (i + n - 1) % n;
    at::Tensor mine = at::full({5}, double(w), f32), got = at::empty({5}, f32);
    if (i % 2 == 0) {
      g.send(mine, next, 7);
      g.recv(got, prev, 7);
    } else {
      g.recv(got, prev, 7);
      g.send(mine, next, 7);
    }
    check.count();
    check.equal("send/recv ring", got, at::full({5}, double(m[prev]), cpu_f32));
  }

  auto bools = [](int a, int b2, int c) { return at::tensor({a, b2, c}, at::kByte).to(at::kBool); };
  at::Tensor flags = bools(w % 2 == 0, 1, 0).to(g.options().device);
  g.broadcast(flags, 0);
  check.count();
  check.equal("broadcast(bool)", flags, bools(m[0] % 2 == 0, 1, 0));

  const std::string text = "from world rank " + std::to_string(m[0]) + std::string("\0\xff", 2);
  const std::string got_text = g.broadcast_bytes(i == 0 ? text : "ignored", 0);
  check.count();
  if (got_text != text)
    result.failures.push_back("broadcast_bytes on group '" + g.name() + "': got '" + got_text + "'");
  const std::string empty = g.broadcast_bytes(i == 0 ? "" : "ignored", 0);
  check.count();
  if (!empty.empty()) result.failures.push_back("broadcast_bytes(empty) on group '" + g.name() + "'");
  g.barrier();
  check.count();
  return result;
}

}  // namespace glmh
