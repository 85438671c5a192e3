#include "harness/checks/collective_selftest.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <sstream>

#include "pipeline/runtime/communicator.h"

namespace glmh {

namespace {

// What every case knows about its group: size, own group rank, the members' world ranks.
struct Group {
  Communicator& comm;
  int n, i, w;  // size, group rank, world rank
  std::vector<int> m;
  double member_sum;
  at::TensorOptions dev, f32;
  const at::TensorOptions cpu_f32 = at::TensorOptions().dtype(at::kFloat);

  explicit Group(Communicator& g)
      : comm(g), n(g.size()), i(g.rank()), w(g.members()[g.rank()]), m(g.members()),
        member_sum(std::accumulate(m.begin(), m.end(), 0.0)), dev(at::TensorOptions().device(g.options().device)),
        f32(dev.dtype(at::kFloat)) {}
  at::Tensor to_device(const at::Tensor& t) const { return t.to(comm.options().device); }
};

// A case runs its collective and gives what it got and what it must get (on any device); both
// are compared on the CPU, exactly — every expected value is exactly representable.
struct Outcome {
  at::Tensor got, want;
};

struct CollectiveCase {
  const char* name;
  Outcome (*run)(const Group&);
  bool needs_peers = false;  // skipped on a group of one
};

Outcome broadcast_from_last(const Group& g) {
  at::Tensor b = at::full({3}, double(g.w + 1), g.f32);
  g.comm.broadcast(b, g.n - 1);
  return {b, at::full({3}, double(g.m[g.n - 1] + 1), g.cpu_f32)};
}

Outcome all_reduce_sum(const Group& g) {
  at::Tensor s = at::full({2}, double(g.w + 1), g.f32);
  g.comm.all_reduce(s, ReduceOp::Sum);
  return {s, at::full({2}, g.member_sum + g.n, g.cpu_f32)};
}

Outcome all_reduce_max(const Group& g) {
  at::Tensor mx = at::full({1}, double(g.w), g.f32);
  g.comm.all_reduce(mx, ReduceOp::Max);
  return {mx, at::full({1}, double(*std::max_element(g.m.begin(), g.m.end())), g.cpu_f32)};
}

Outcome all_reduce_min_int64(const Group& g) {
  at::Tensor mn = at::full({1}, double(g.w), g.dev.dtype(at::kLong));
  g.comm.all_reduce(mn, ReduceOp::Min);
  return {mn, at::full({1}, double(*std::min_element(g.m.begin(), g.m.end())), at::kLong)};
}

// bf16: small integers are exact whichever way the backend sums.
Outcome all_reduce_sum_bf16(const Group& g) {
  at::Tensor bf = at::full({4}, double(g.w + 1), g.dev.dtype(at::kBFloat16));
  g.comm.all_reduce(bf);
  return {bf, at::full({4}, g.member_sum + g.n, at::kBFloat16)};
}

Outcome all_gather_f32(const Group& g) {
  at::Tensor in = g.to_device(at::tensor({double(g.w), double(g.w) * 10}, g.cpu_f32));
  at::Tensor out = at::empty({g.n * 2}, g.f32);
  g.comm.all_gather(out, in);
  at::Tensor want = at::empty({g.n * 2}, g.cpu_f32);
  for (int r = 0; r < g.n; ++r) {
    want[2 * r] = double(g.m[r]);
    want[2 * r + 1] = double(g.m[r]) * 10;
  }
  return {out, want};
}

Outcome all_gather_bf16(const Group& g) {
  at::Tensor in = g.to_device((at::arange(3, g.cpu_f32) + g.w * 0.5).to(at::kBFloat16));
  at::Tensor out = at::empty({g.n, 3}, g.dev.dtype(at::kBFloat16));
  g.comm.all_gather(out, in);
  at::Tensor want = at::empty({g.n, 3}, at::kBFloat16);
  for (int r = 0; r < g.n; ++r) want[r] = (at::arange(3, g.cpu_f32) + g.m[r] * 0.5).to(at::kBFloat16);
  return {out, want};
}

Outcome reduce_scatter_sum(const Group& g) {
  at::Tensor in = at::arange(g.n * 3, g.f32) + g.w;
  at::Tensor out = at::empty({3}, g.f32);
  g.comm.reduce_scatter_sum(out, in);
  at::Tensor want = at::empty({3}, g.cpu_f32);
  for (int j = 0; j < 3; ++j) want[j] = g.member_sum + g.n * (g.i * 3 + j);
  return {out, want};
}

// Equal blocks: block j of rank r holds {100 m[r] + j, 100 m[r] + j + 0.5}.
Outcome all_to_all_equal(const Group& g) {
  at::Tensor in = at::empty({g.n, 2}, g.cpu_f32), want = at::empty({g.n, 2}, g.cpu_f32);
  for (int j = 0; j < g.n; ++j) {
    in[j][0] = 100.0 * g.w + j;
    in[j][1] = 100.0 * g.w + j + 0.5;
    want[j][0] = 100.0 * g.m[j] + g.i;
    want[j][1] = 100.0 * g.m[j] + g.i + 0.5;
  }
  at::Tensor out = at::empty({g.n, 2}, g.f32);
  g.comm.all_to_all(out, g.to_device(in));
  return {out, want};
}

// Uneven: rank r sends j + 1 elements of value 1000 m[r] + j to rank j.
Outcome all_to_all_uneven(const Group& g) {
  std::vector<int64_t> in_splits, out_splits;
  std::vector<float> send, expect;
  for (int j = 0; j < g.n; ++j) {
    in_splits.push_back(j + 1);
    out_splits.push_back(g.i + 1);
    for (int k = 0; k <= j; ++k) send.push_back(1000.0f * g.w + j);
    for (int k = 0; k <= g.i; ++k) expect.push_back(1000.0f * g.m[j] + g.i);
  }
  at::Tensor out = at::empty({g.n * (g.i + 1)}, g.f32);
  g.comm.all_to_all(out, g.to_device(at::tensor(send, g.cpu_f32)), out_splits, in_splits);
  return {out, at::tensor(expect, g.cpu_f32)};
}

// A ring exchange; even ranks send first and odd ranks receive first, so that blocking
// point-to-point pairs up on every backend.
Outcome send_recv_ring(const Group& g) {
  const int next = (g.i + 1) % g.n, prev = (g.i + g.n - 1) % g.n;
  at::Tensor mine = at::full({5}, double(g.w), g.f32), got = at::empty({5}, g.f32);
  if (g.i % 2 == 0) {
    g.comm.send(mine, next, 7);
    g.comm.recv(got, prev, 7);
  } else {
    g.comm.recv(got, prev, 7);
    g.comm.send(mine, next, 7);
  }
  return {got, at::full({5}, double(g.m[prev]), g.cpu_f32)};
}

at::Tensor bools(int a, int b, int c) { return at::tensor({a, b, c}, at::kByte).to(at::kBool); }

Outcome broadcast_bool(const Group& g) {
  at::Tensor flags = g.to_device(bools(g.w % 2 == 0, 1, 0));
  g.comm.broadcast(flags, 0);
  return {flags, bools(g.m[0] % 2 == 0, 1, 0)};
}

// Bytes as a uint8 tensor, so that they are compared like every other outcome.
at::Tensor bytes_tensor(const std::string& s) {
  return at::tensor(std::vector<int64_t>(s.begin(), s.end()), at::kLong).to(at::kByte);
}

Outcome broadcast_bytes_with_nul(const Group& g) {
  const std::string text = "from world rank " + std::to_string(g.m[0]) + std::string("\0\xff", 2);
  return {bytes_tensor(g.comm.broadcast_bytes(g.i == 0 ? text : "ignored", 0)), bytes_tensor(text)};
}

Outcome broadcast_bytes_empty(const Group& g) {
  return {bytes_tensor(g.comm.broadcast_bytes(g.i == 0 ? "" : "ignored", 0)), bytes_tensor("")};
}

Outcome barrier(const Group& g) {
  g.comm.barrier();
  return {at::ones({1}), at::ones({1})};
}

// Every collective glmh uses, in the order every member runs them.
const std::vector<CollectiveCase>& collective_cases() {
  static const std::vector<CollectiveCase> cases = {
      {"broadcast(root n-1)", broadcast_from_last},
      {"all_reduce(sum)", all_reduce_sum},
      {"all_reduce(max)", all_reduce_max},
      {"all_reduce(min, int64)", all_reduce_min_int64},
      {"all_reduce(sum, bf16)", all_reduce_sum_bf16},
      {"all_gather", all_gather_f32},
      {"all_gather(bf16)", all_gather_bf16},
      {"reduce_scatter(sum)", reduce_scatter_sum},
      {"all_to_all", all_to_all_equal},
      {"all_to_all(uneven splits)", all_to_all_uneven},
      {"send/recv ring", send_recv_ring, /*needs_peers=*/true},
      {"broadcast(bool)", broadcast_bool},
      {"broadcast_bytes", broadcast_bytes_with_nul},
      {"broadcast_bytes(empty)", broadcast_bytes_empty},
      {"barrier", barrier},
  };
  return cases;
}

std::string first_values(const at::Tensor& t) {
  std::ostringstream s;
  const at::Tensor d = t.to(at::kDouble).reshape({-1});
  for (int64_t k = 0; k < std::min<int64_t>(d.numel(), 8); ++k) s << (k ? ", " : "") << d[k].item<double>();
  return "[" + s.str() + (d.numel() > 8 ? ", ...]" : "]");
}

}  // namespace

CollectiveSelftest run_collective_selftest(Communicator& comm) {
  CollectiveSelftest result;
  const Group g(comm);
  for (const auto& c : collective_cases()) {
    if (c.needs_peers && g.n == 1) continue;
    const Outcome o = c.run(g);
    comm.wait_for_device(c.name);
    ++result.collectives_run;
    const at::Tensor got = o.got.cpu(), want = o.want.cpu();
    if (got.scalar_type() == want.scalar_type() && got.sizes() == want.sizes() && at::equal(got, want)) continue;
    result.failures.push_back(std::string(c.name) + " on group '" + comm.name() + "' (group rank " +
                              std::to_string(g.i) + "): got " + first_values(got) + ", expected " +
                              first_values(want));
  }
  return result;
}

}  // namespace glmh
