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

namespace glmh {

class ComponentCheckpoint;

// vision_config of vision_language_encoder/config.json (upstream names, class defaults).
struct GlmImageVisionConfig {
  int64_t depth = 40;
  int64_t hidden_size = 1536;
  int64_t num_heads = 16;
  int64_t intermediate_size = 6144;
  int64_t in_channels = 3;
  int64_t image_size = 2048;
  int64_t patch_size = 16;
  int64_t spatial_merge_size = 1;
  bool attention_bias = true;
  double layer_norm_eps = 1e-6;
  std::string hidden_act = "gelu";

  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t patch_dim() const { return in_channels * patch_size * patch_size; }
  // The position table is (image_size / patch_size)^2 rows, read as a square.
  int64_t position_side() const { return image_size / patch_size; }

  // Reads `vision_config` when present (the pipeline component's layout), else `j` itself.
  static GlmImageVisionConfig from_json(const nlohmann::json& j, const std::string& source);
};

// vq_config of vision_language_encoder/config.json (GlmImageVQVAEConfig names and defaults).
struct GlmImageVQConfig {
  int64_t embed_dim = 2048;
  int64_t num_embeddings = 16384;
  int64_t latent_channels = 1536;
  int64_t in_channels = 3;

  // Reads `vq_config` when present, else `j` itself.
  static GlmImageVQConfig from_json(const nlohmann::json& j, const std::string& source);
};

// The tensors inference reads (model.visual.*, model.vqmodel.* without post_quant_conv), by
// checkpoint name.
std::map<std::string, std::vector<int64_t>> glm_image_vision_parameter_shapes(const GlmImageVisionConfig& vision,
                                                                               const GlmImageVQConfig& vq);

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
