#include "pipeline/parallel/sequence_parallel_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/parallel/row_copy.h"
#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

namespace {

// An all-to-all in flight (fp16 on the wire when the fault asks for it): started at construction,
// what arrived is returned by wait(), in the sender's dtype.
class InFlightExchange {
 public:
  InFlightExchange(const at::Tensor& in, Communicator& group, bool fp16_wire, std::vector<int64_t> out_splits = {},
                   std::vector<int64_t> in_splits = {})
      : dtype_(in.scalar_type()), fp16_wire_(fp16_wire) {
    const at::Tensor wire = fp16_wire ? in.to(at::kHalf) : in;
    out_ = at::empty_like(wire);
    pending_ = group.start_all_to_all(out_, wire, std::move(out_splits), std::move(in_splits));
  }
  at::Tensor wait() {
    pending_.wait();
    return fp16_wire_ ? out_.to(dtype_) : out_;
  }

 private:
  c10::ScalarType dtype_;
  bool fp16_wire_;
  at::Tensor out_;
  PendingCollective pending_;
};

// [B, P + U n, hu, D]: the prefix rows, then the U blocks [U, B, n, hu, D] in block order, written
// once (the layout attention reads, with no concatenation after it).
at::Tensor prefix_then_blocks(const at::Tensor& prefix_rows, const at::Tensor& blocks) {
  const int64_t p = prefix_rows.size(1), u = blocks.size(0), b = blocks.size(1), n = blocks.size(2);
  at::Tensor out = at::empty({b, p + u * n, blocks.size(3), blocks.size(4)}, blocks.options());
  if (p > 0) copy_rows(out.narrow(1, 0, p), prefix_rows);
  copy_rows(out.narrow(1, p, u * n).view({b, u, n, blocks.size(3), blocks.size(4)}), blocks.permute({1, 0, 2, 3, 4}));
  return out;
}

// Starts sending `x` to the next ring rank; wait() returns what the previous one sent.
InFlightExchange start_ring_rotation(const at::Tensor& x, Communicator& ring) {
  const int r = ring.rank(), size = ring.size();
  std::vector<int64_t> in_splits(size, 0), out_splits(size, 0);
  in_splits[(r + 1) % size] = x.size(0);
  out_splits[(r + size - 1) % size] = x.size(0);
  return InFlightExchange(x, ring, /*fp16_wire=*/false, out_splits, in_splits);
}

// Merges a partial attention result into the running one by their log-sum-exps (fp32).
void merge_partial(at::Tensor& out, at::Tensor& lse, const at::Tensor& part, const at::Tensor& part_lse) {
  const at::Tensor merged = at::logaddexp(lse, part_lse);
  const at::Tensor finite = merged.masked_fill(merged.isinf(), 0.0);  // both -inf: weights 0, not NaN
  out = out * at::exp(lse - finite).unsqueeze(-1) + part.to(at::kFloat) * at::exp(part_lse - finite).unsqueeze(-1);
  lse = merged;
}

}  // namespace

at::Tensor SequenceParallelAttention::operator()(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                                                 int64_t text_len) const {
  auto staged = [this](const at::Tensor& t) { return fault_fp16_staging ? t.to(at::kHalf).to(t.scalar_type()) : t; };
  const at::Tensor q = staged(q_in), k = staged(k_in), v = staged(v_in);
  Communicator& uly = *ulysses;
  Communicator& rng = *ring;
  const int64_t n = q.size(1) - text_len, prefix = k.size(1) - n, heads = q.size(2);
  if (n != tokens_per_rank)
    throw std::invalid_argument("sequence-parallel attention got " + std::to_string(n) + " image tokens, expected " +
                                std::to_string(tokens_per_rank) + " per rank");
  if (prefix < text_len || v.size(1) != k.size(1))
    throw std::invalid_argument("sequence-parallel attention: keys/values do not extend the queries' prefix");
  if (heads % uly.size() != 0)
    throw std::invalid_argument(std::to_string(heads) + " heads do not split over Ulysses " + std::to_string(uly.size()));
  const int64_t u = uly.size(), hu = heads / u, head0 = uly.rank() * hu;
  const int64_t b = q.size(0), d = q.size(3), m = u * n, r = rng.rank(), ring_size = rng.size();
  // Pipelining over head groups overlaps one group's exchanges with another's attention; the ring
  // overlaps its rotations instead (docs/sequence-parallel.md#overlap).
  const int64_t groups = u > 1 && ring_size == 1 && pipeline_groups > 1 && hu % pipeline_groups == 0 ? pipeline_groups : 1;
  const int64_t hg = hu / groups;

  // Ring chunk j holds image tokens [j m, (j + 1) m); only the last ones can hold padding.
  const auto opts_bool = at::TensorOptions().dtype(at::kBool).device(q.device());
  auto valid_in_chunk = [&](int64_t j) { return std::clamp<int64_t>(image_tokens - j * m, 0, m); };
  // Mask over [prefix (if any) ; chunk j], undefined when nothing is hidden.
  auto key_mask = [&](int64_t j, int64_t prefix_keys) {
    const int64_t valid = valid_in_chunk(j);
    if (valid == m || fault_padding_as_keys) return at::Tensor();
    return at::cat({at::ones({prefix_keys}, opts_bool), at::arange(m, opts_bool.dtype(at::kLong)) < valid});
  };
  // [B, S, heads, D] buffers; attention reads them transposed to [B, heads, S, D] (no copy).
  auto bhsd = [](const at::Tensor& t) { return t.transpose(1, 2); };

  // Attention of head group g's queries (prefix and the chunk's tokens) over every key, given the
  // image rows of q, k, v as [U (source rank), B, n, hg, D] blocks. Returns [B, Lt + m, hg, D].
  auto attend = [&](int64_t g, const at::Tensor& q_blocks, const at::Tensor& k_blocks, const at::Tensor& v_blocks) {
    const int64_t first_head = head0 + g * hg;
    const at::Tensor q_all = prefix_then_blocks(q.narrow(1, 0, text_len).narrow(2, first_head, hg), q_blocks);
    const at::Tensor k_prefix = k.narrow(1, 0, prefix).narrow(2, first_head, hg);
    const at::Tensor v_prefix = v.narrow(1, 0, prefix).narrow(2, first_head, hg);
    at::Tensor out;  // [B, hg, Lt + m, D]
    if (ring_size == 1) {
      const at::Tensor keys = prefix_then_blocks(k_prefix, k_blocks), values = prefix_then_blocks(v_prefix, v_blocks);
      const at::Tensor mask = key_mask(r, prefix);
      if (!mask.defined()) out = compat::attention(bhsd(q_all), bhsd(keys), bhsd(values));
      else out = compat::attention_with_lse(bhsd(q_all), bhsd(keys), bhsd(values), mask).first.to(at::kFloat);
      return out.to(q.scalar_type()).transpose(1, 2);
    }
    // The chunk's keys and values, [2, B, m, hg, D] contiguous: what travels around the ring. Each
    // rotation is started before the attention over the chunk in hand, which hides it.
    at::Tensor chunk_kv = at::empty({2, b, m, hg, d}, q.options());
    copy_rows(chunk_kv[0].view({b, u, n, hg, d}), k_blocks.permute({1, 0, 2, 3, 4}));
    copy_rows(chunk_kv[1].view({b, u, n, hg, d}), v_blocks.permute({1, 0, 2, 3, 4}));
    at::Tensor lse;
    for (int64_t step = 0; step < ring_size; ++step) {
      std::optional<InFlightExchange> next;
      if (step + 1 < ring_size) next.emplace(start_ring_rotation(chunk_kv, rng));
      const int64_t j = (r - step + ring_size) % ring_size;
      // The prefix once, with my own chunk (or at every step under the fault).
      const int64_t prefix_keys = step == 0 || fault_ring_prefix_no_rotate ? prefix : 0;
      const bool all_padding = valid_in_chunk(j) == 0 && prefix_keys == 0 && !fault_padding_as_keys;
      if (step == 0 || !all_padding) {
        at::Tensor keys = chunk_kv[0], values = chunk_kv[1];
        if (prefix_keys > 0) {
          keys = prefix_then_blocks(k_prefix, keys.unsqueeze(0));
          values = prefix_then_blocks(v_prefix, values.unsqueeze(0));
        }
        const auto [part, part_lse] =
            compat::attention_with_lse(bhsd(q_all), bhsd(keys), bhsd(values), key_mask(j, prefix_keys));
        if (step == 0) {
          out = part.to(at::kFloat);
          lse = part_lse;
        } else {
          merge_partial(out, lse, part, part_lse);
        }
      }
      if (next) chunk_kv = next->wait();
    }
    return out.to(q.scalar_type()).transpose(1, 2);
  };

  if (u == 1) {
    return attend(0, q.narrow(1, text_len, n).unsqueeze(0), k.narrow(1, prefix, n).unsqueeze(0),
                  v.narrow(1, prefix, n).unsqueeze(0));
  }

  // Ulysses, per head group: the image rows of q, k, v in one all-to-all, its send buffer [U
  // (destination), 3, B, n, hg, D] written by one copy of each; it brings [U (source), 3, B, n, hg,
  // D]: the group's heads of every Ulysses rank's tokens, in rank order. All groups' exchanges are
  // started first, so that each runs while the previous group is attended.
  std::vector<InFlightExchange> inputs;
  const at::Tensor image_rows[3] = {q.narrow(1, text_len, n), k.narrow(1, prefix, n), v.narrow(1, prefix, n)};
  for (int64_t g = 0; g < groups; ++g) {
    at::Tensor send = at::empty({u, 3, b, n, hg, d}, q.options());
    for (int64_t i = 0; i < 3; ++i)
      copy_rows(send.select(1, i), image_rows[i].reshape({b, n, u, groups, hg, d}).select(3, g).permute({2, 0, 1, 3, 4}));
    inputs.emplace_back(send, uly, fault_fp16_wire);
  }
  // Back through one all-to-all per group: destination i gets the prefix rows and its own tokens'
  // rows of the group's heads; from source j it receives head group g of j's head chunk:
  // [U (source), B, Lt + n, hg, D], put in place in the result by one copy. (The prefix output is
  // the same on every ring rank.)
  std::vector<InFlightExchange> outputs;
  for (int64_t g = 0; g < groups; ++g) {
    const at::Tensor received = inputs[size_t(g)].wait();
    const at::Tensor attended = attend(g, received.select(1, 0), received.select(1, 1), received.select(1, 2));
    at::Tensor send = at::empty({u, b, text_len + n, hg, d}, q.options());
    if (text_len > 0)
      copy_rows(send.narrow(2, 0, text_len), attended.narrow(1, 0, text_len).unsqueeze(0).expand({u, b, text_len, hg, d}));
    copy_rows(send.narrow(2, text_len, n), attended.narrow(1, text_len, m).view({b, u, n, hg, d}).permute({1, 0, 2, 3, 4}));
    outputs.emplace_back(send, uly, fault_fp16_wire);
  }
  at::Tensor result = at::empty({b, text_len + n, heads, d}, q.options());
  for (int64_t g = 0; g < groups; ++g)
    copy_rows(result.view({b, text_len + n, u, groups, hg, d}).select(3, g), outputs[size_t(g)].wait().permute({1, 2, 0, 3, 4}));
  return result;
}

}  // namespace glmh
