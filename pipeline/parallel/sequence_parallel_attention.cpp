#include "pipeline/parallel/sequence_parallel_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pipeline/runtime/communicator.h"
#include "pipeline/runtime/torch_compat.h"

namespace glmh {

namespace {

// One all-to-all of `in`, in fp16 on the wire when the fault asks for it.
at::Tensor exchange(const at::Tensor& in, Communicator& group, bool fp16_wire) {
  const at::Tensor wire = fp16_wire ? in.to(at::kHalf) : in;
  at::Tensor out = at::empty_like(wire);
  group.all_to_all(out, wire);
  return fp16_wire ? out.to(in.scalar_type()) : out;
}

// [B, n, h, D] on each of U ranks -> [B, U n, h / U, D]: scatter heads, gather the sequence.
at::Tensor scatter_heads_gather_sequence(const at::Tensor& x, Communicator& group, bool fp16_wire) {
  const int64_t u = group.size();
  if (u == 1) return x;
  const int64_t b = x.size(0), n = x.size(1), hu = x.size(2) / u, d = x.size(3);
  // Dim-0 blocks of the all-to-all are destinations: block i holds head chunk i of my tokens.
  const at::Tensor in = x.reshape({b, n, u, hu, d}).permute({2, 0, 1, 3, 4}).contiguous();
  const at::Tensor out = exchange(in, group, fp16_wire);  // block i: my head chunk of rank i's tokens
  return out.permute({1, 0, 2, 3, 4}).reshape({b, u * n, hu, d});
}

// Inverse: [B, U n, h / U, D] -> [B, n, h, D].
at::Tensor gather_heads_scatter_sequence(const at::Tensor& x, Communicator& group, bool fp16_wire) {
  const int64_t u = group.size();
  if (u == 1) return x;
  const int64_t b = x.size(0), n = x.size(1) / u, hu = x.size(2), d = x.size(3);
  const at::Tensor in = x.reshape({b, u, n, hu, d}).permute({1, 0, 2, 3, 4}).contiguous();
  const at::Tensor out = exchange(in, group, fp16_wire);  // block i: head chunk i of my tokens
  return out.permute({1, 2, 0, 3, 4}).reshape({b, n, u * hu, d});
}

// [B, L, h / U, D] on each of U ranks -> [B, L, h, D] (heads concatenated in rank order).
at::Tensor gather_heads(const at::Tensor& x, Communicator& group) {
  const int64_t u = group.size();
  if (u == 1) return x;
  const at::Tensor in = x.permute({2, 0, 1, 3}).contiguous();
  auto sizes = in.sizes().vec();
  sizes[0] *= u;
  at::Tensor out = at::empty(sizes, in.options());
  group.all_gather(out, in);
  return out.permute({1, 2, 0, 3});
}

// Sends `x` to the next ring rank and returns what the previous one sent.
at::Tensor rotate_ring(const at::Tensor& x, Communicator& ring) {
  const int r = ring.rank(), size = ring.size();
  std::vector<int64_t> in_splits(size, 0), out_splits(size, 0);
  in_splits[(r + 1) % size] = x.size(0);
  out_splits[(r + size - 1) % size] = x.size(0);
  at::Tensor out = at::empty_like(x);
  ring.all_to_all(out, x, out_splits, in_splits);
  return out;
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

  // Ulysses: the image parts of q, k, v in one all-to-all; the prefix sliced to my heads.
  const at::Tensor qkv_image = scatter_heads_gather_sequence(
      at::cat({q.narrow(1, text_len, n), k.narrow(1, prefix, n), v.narrow(1, prefix, n)}, 0), uly, fault_fp16_wire);
  const auto image = qkv_image.chunk(3, 0);
  const at::Tensor q_all = at::cat({q.narrow(1, 0, text_len).narrow(2, head0, hu), image[0]}, 1).transpose(1, 2);
  const at::Tensor k_prefix = k.narrow(1, 0, prefix).narrow(2, head0, hu).transpose(1, 2);
  const at::Tensor v_prefix = v.narrow(1, 0, prefix).narrow(2, head0, hu).transpose(1, 2);

  // Ring chunk j holds image tokens [j m, (j + 1) m); only the last ones can hold padding.
  const int64_t m = u * n, r = rng.rank(), ring_size = rng.size();
  const auto opts_bool = at::TensorOptions().dtype(at::kBool).device(q.device());
  auto valid_in_chunk = [&](int64_t j) { return std::clamp<int64_t>(image_tokens - j * m, 0, m); };
  // Mask over [prefix (if any) ; chunk j], undefined when nothing is hidden.
  auto key_mask = [&](int64_t j, int64_t prefix_keys) {
    const int64_t valid = valid_in_chunk(j);
    if (valid == m || fault_padding_as_keys) return at::Tensor();
    return at::cat({at::ones({prefix_keys}, opts_bool), at::arange(m, opts_bool.dtype(at::kLong)) < valid});
  };

  at::Tensor chunk_kv = at::cat({image[1], image[2]}, 0).transpose(1, 2);  // [2B, hu, m, D]
  const int64_t b = q.size(0);
  at::Tensor out, lse;
  {
    const at::Tensor mask = key_mask(r, prefix);
    const at::Tensor keys = at::cat({k_prefix, chunk_kv.narrow(0, 0, b)}, 2);
    const at::Tensor values = at::cat({v_prefix, chunk_kv.narrow(0, b, b)}, 2);
    if (ring_size == 1 && !mask.defined()) {
      out = compat::attention(q_all, keys, values);
    } else {
      std::tie(out, lse) = compat::attention_with_lse(q_all, keys, values, mask);
      out = out.to(at::kFloat);
    }
  }
  for (int64_t step = 1; step < ring_size; ++step) {
    chunk_kv = rotate_ring(chunk_kv.contiguous(), rng);
    const int64_t j = (r - step + ring_size) % ring_size;
    const int64_t prefix_keys = fault_ring_prefix_no_rotate ? prefix : 0;
    if (valid_in_chunk(j) == 0 && prefix_keys == 0 && !fault_padding_as_keys) continue;  // all padding: nothing to attend
    at::Tensor keys = chunk_kv.narrow(0, 0, b), values = chunk_kv.narrow(0, b, b);
    if (prefix_keys > 0) {
      keys = at::cat({k_prefix, keys}, 2);
      values = at::cat({v_prefix, values}, 2);
    }
    const auto [part, part_lse] = compat::attention_with_lse(q_all, keys, values, key_mask(j, prefix_keys));
    merge_partial(out, lse, part, part_lse);
  }
  out = out.to(q.scalar_type()).transpose(1, 2);  // [B, Lt + m, hu, D]

  const at::Tensor text_out = text_len == 0 ? q.narrow(1, 0, 0) : gather_heads(out.narrow(1, 0, text_len), uly);
  const at::Tensor image_out = gather_heads_scatter_sequence(out.narrow(1, text_len, m), uly, fault_fp16_wire);
  return at::cat({text_out, image_out}, 1);
}

}  // namespace glmh
