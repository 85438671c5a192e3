#include "pipeline/parallel/dit_tensor_parallel.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "pipeline/parallel/tp_slice.h"

namespace glmh {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

TpSplit dit_tp_split(const std::string& name) {
  if (name.rfind("transformer_blocks.", 0) != 0) return TpSplit::Replicated;
  for (const char* column : {".attn1.to_q.", ".attn1.to_k.", ".attn1.to_v.", ".ff.net.0.proj."})
    if (name.find(column) != std::string::npos) return TpSplit::Column;
  for (const char* row : {".attn1.to_out.0.", ".ff.net.2."})
    if (name.find(row) != std::string::npos) return TpSplit::Row;
  return TpSplit::Replicated;
}

std::map<std::string, at::Tensor> shard_dit_parameters_for_tp(const std::map<std::string, at::Tensor>& params,
                                                              int64_t rank, int64_t size) {
  if (size == 1) return params;
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : params) {
    switch (dit_tp_split(name)) {
      case TpSplit::Column: out[name] = slice_for_tp(t, 0, rank, size, name); break;
      case TpSplit::Row: out[name] = ends_with(name, ".weight") ? slice_for_tp(t, 1, rank, size, name) : t; break;
      case TpSplit::Replicated: out[name] = t; break;
    }
  }
  return out;
}

}  // namespace glmh
