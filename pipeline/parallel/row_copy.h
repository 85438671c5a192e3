// Layout-changing copies (permutes, head and sequence shuffles) whose innermost dimension is
// contiguous: libtorch copies a strided tensor element by element, recomputing a multi-dimensional
// index for each; moving each row as 16-byte words does the same copy with 8x fewer elements in
// bf16 (docs/sequence-parallel.md#copies). The bytes are identical.
#pragma once

#include <ATen/core/Tensor.h>

namespace glmh {

// dst.copy_(src) for tensors of one dtype and shape (src may be an expanded view); as 16-byte words
// when both have a contiguous innermost dimension of a multiple of 16 bytes, aligned.
void copy_rows(at::Tensor dst, const at::Tensor& src);

}  // namespace glmh
