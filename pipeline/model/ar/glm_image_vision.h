// The image-to-image front end of the AR model (docs/model.md#vision-encoder-and-vq): transformers'
// GlmImageVisionModel (the ViT) and the encode half of GlmImageVQVAE, as GlmImageModel's
// get_image_features + get_image_tokens chain them.
//
// ViT: a patch-embedding conv (kernel = stride = patch), plus a learned square position table
// resampled bilinearly to each image's grid (grid_sample, align_corners false, border padding),
// then pre-LN blocks with fused qkv, attention only among the patches of one image, exact GELU;
// no RoPE, no final norm. VQ: 1x1 quant_conv, L2-normalised latent and codebook, nearest code by
// squared distance (the first on a tie). post_quant_conv and the VQ decoder are not used.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/model/ar/ar_positions.h"
#include "pipeline/model/ar/glm_image_vision_config.h"

namespace glmh {

class ComponentCheckpoint;

struct VisionOutput {
  at::Tensor image_features;  // [N, hidden], the ViT output, in the model dtype
  at::Tensor vq_ids;          // [N] int64 codebook indices, row-major per image
};

class GlmImageVisionEncoder {
 public:
  static GlmImageVisionEncoder load(const ComponentCheckpoint& checkpoint, const c10::Device& device,
                                    c10::ScalarType dtype);
  const GlmImageVisionConfig& vision_config() const { return vision_; }
  const GlmImageVQConfig& vq_config() const { return vq_; }

  // pixel_values [N, in_channels * patch^2] (the processor's rows, image after image), one grid
  // (1, h, w) per image with sum(h * w) = N.
  VisionOutput encode(const at::Tensor& pixel_values, const std::vector<GridThw>& grids) const;

  // The steps of encode, in order, each usable on its own.
  at::Tensor patch_embeddings(const at::Tensor& pixel_values) const;  // -> [N, hidden]
  at::Tensor position_embeddings(const GridThw& grid) const;          // -> [h * w, hidden], row-major
  // The blocks over hidden [N, hidden]; attention stays within consecutive segments of the given
  // lengths (one per image).
  at::Tensor transformer(const at::Tensor& hidden, const std::vector<int64_t>& segment_lengths) const;
  at::Tensor quantize(const at::Tensor& features) const;  // [N, hidden] -> [N] int64

 private:
  const at::Tensor& p(const std::string& name) const { return params_.at(name); }

  GlmImageVisionConfig vision_;
  GlmImageVQConfig vq_;
  std::map<std::string, at::Tensor> params_;
  at::Tensor position_table_;     // [1, hidden, side, side] fp32, as upstream resamples it
  at::Tensor codebook_;           // [num_embeddings, embed_dim], L2-normalised
  at::Tensor codebook_sq_norms_;  // [num_embeddings]
};

}  // namespace glmh
