"""Golden for glmh's image-to-image front end of the AR model
(docs/model.md#vision-encoder-and-vq).

Model: transformers' GlmImageVisionModel + GlmImageVQVAE as GlmImageForConditionalGeneration holds
them, small, random weights (depth 2, hidden 48 with 3 heads, 6 x 6 position table, patch 8,
a 40-entry codebook of width 24 whose rows have very different norms, so that skipping the L2
normalisation picks other codes). Writes golden/reference/vision_tiny/ (config.json nested like
vision_language_encoder/config.json, model.safetensors with the checkpoint names, including the
post_quant_conv that inference does not use) and vision_tiny_io.safetensors: pixel_values of two
images with different non-square grids (3 x 5 below the table, 7 x 4 above it in one axis),
image_grid_thw, image_features (the ViT output) and vq_ids (get_image_tokens over
get_image_features' per-image maps), fp32 CPU.

Processor: golden/reference/vision_processor/ (a small preprocessor_config.json in the
checkpoint's format, smart_resize_cases.json) and vision_processor_io.safetensors. transformers
5.24 picks the torchvision backend (GlmImageImageProcessor) when torchvision is installed, else the
PIL one; the reference venv has no torchvision, so the golden runs upstream's PIL-backend class
(config loading, smart_resize, rescale, normalise, patchify) with its resampling swapped for the
call the torchvision backend makes on a uint8 CPU image: torch.nn.functional.interpolate(bicubic,
antialias=True, align_corners=False) on uint8 (torch's fixed-point separable kernel). The
unmodified PIL processor's output is stored too (pixel_values_*_pil) to measure the residual
difference between the two backends, and the uint8 kernel alone on noise (resize_in_i ->
resize_out_i).
Usage: /work/ref-venv/bin/python scripts/reference/make_vision_golden.py [OUT_DIR]
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from transformers.image_processing_backends import PilBackend
from transformers.models.glm_image.configuration_glm_image import GlmImageConfig
from transformers.models.glm_image.image_processing_pil_glm_image import GlmImageImageProcessorPil, smart_resize
from transformers.models.glm_image.modeling_glm_image import GlmImageForConditionalGeneration

VISION = dict(depth=2, hidden_size=48, num_heads=3, intermediate_size=80, image_size=48, patch_size=8, in_channels=3,
              hidden_act="gelu", attention_bias=True, layer_norm_eps=1e-6, spatial_merge_size=1)
VQ = dict(embed_dim=24, num_embeddings=40, latent_channels=48, in_channels=3)
# Only so that GlmImageForConditionalGeneration can be built; its weights are not saved.
TEXT = dict(vocab_size=64, vision_vocab_size=48, hidden_size=32, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, pad_token_id=0, eos_token_id=1,
            rope_parameters={"rope_type": "default", "rope_theta": 100.0, "partial_rotary_factor": 0.5,
                             "mrope_section": [2, 1, 1]})
GRIDS = [[1, 3, 5], [1, 7, 4]]

# The processor golden's config: the checkpoint's processor/preprocessor_config.json with small
# pixel bounds and patch 4 so the outputs stay small.
PROCESSOR = {"min_pixels": 1024, "max_pixels": 4096, "do_rescale": True, "do_normalize": True, "do_resize": True,
             "patch_size": 4, "temporal_patch_size": 1, "merge_size": 1, "image_mean": [0.5, 0.5, 0.5],
             "image_std": [0.5, 0.5, 0.5], "image_processor_type": "GlmImageImageProcessor",
             "processor_class": "GlmImageProcessor", "resample": 3, "rescale_factor": 0.00392156862745098}


def make_vision(out_dir):
    torch.manual_seed(20261203)
    config = GlmImageConfig(text_config=TEXT, vision_config=VISION, vq_config=VQ)
    model = GlmImageForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("model.visual") or name.startswith("model.vqmodel"):
                p.copy_(torch.randn_like(p) * 0.2)
        for name in ("norm1", "norm2"):  # LayerNorm scales around 1, as trained ones are
            for blk in model.model.visual.blocks:
                getattr(blk, name).weight.add_(1.0)
        model.model.visual.embeddings.position_embedding.weight.mul_(5.0)  # a position signal that matters
        codebook = model.model.vqmodel.quantize.embedding.weight
        codebook.mul_(torch.empty(codebook.shape[0], 1).uniform_(0.1, 4.0))
    pixel_values = torch.rand(sum(t * h * w for t, h, w in GRIDS), 3 * VISION["patch_size"] ** 2) * 2 - 1
    grid_thw = torch.tensor(GRIDS)
    with torch.no_grad():
        features = model.model.visual(pixel_values, grid_thw=grid_thw).last_hidden_state
        per_image = model.model.get_image_features(pixel_values, grid_thw).pooler_output  # list of [C, h, w]
        vq_ids = model.model.get_image_tokens(per_image, grid_thw)
        # The ids must not hinge on fp32 rounding: the best code beats the second by a margin.
        maps = torch.cat([f.flatten(1) for f in per_image], 1)[None, :, :, None]  # [1, C, N, 1]
        latent = model.model.vqmodel.quant_conv(maps)[0, :, :, 0].T  # [N, embed_dim]
        dist = torch.cdist(F.normalize(latent, dim=-1), F.normalize(codebook, dim=-1)) ** 2
        top2 = dist.topk(2, largest=False).values
        assert (top2[:, 1] - top2[:, 0]).min() > 1e-3, "VQ margin too small; change the seed"
        assert torch.equal(dist.argmin(1), vq_ids)
        unnormalised = torch.cdist(latent, codebook).argmin(1)
        assert (unnormalised != vq_ids).float().mean() > 0.1, "normalisation must matter for this golden"
    component = os.path.join(out_dir, "vision_tiny")
    os.makedirs(component, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()
               if k.startswith("model.visual.") or k.startswith("model.vqmodel.")}
    save_file(tensors, os.path.join(component, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(component, "config.json"), "w") as f:
        json.dump({"architectures": ["GlmImageForConditionalGeneration"], "model_type": "glm_image",
                   "vision_config": VISION, "vq_config": VQ}, f, indent=1)
    save_file({"pixel_values": pixel_values, "image_grid_thw": grid_thw, "image_features": features.contiguous(),
               "vq_ids": vq_ids.contiguous()},
              os.path.join(out_dir, "vision_tiny_io.safetensors"),
              metadata={"producer": "scripts/reference/make_vision_golden.py", "transformers": transformers.__version__})


class _TorchvisionResize(PilBackend):
    """The resampling of the torchvision backend for a uint8 CPU image (torchvision.transforms.v2
    resize_image: uint8 bicubic is resized natively on CPU), in place of PIL's."""

    def resize(self, image, size, resample=None, **kwargs):
        assert resample == 3 and image.dtype == np.uint8 and (size.height, size.width) != (None, None)
        if tuple(image.shape[-2:]) == (size.height, size.width):
            return image
        t = torch.from_numpy(np.ascontiguousarray(image))[None]
        return F.interpolate(t, size=(size.height, size.width), mode="bicubic", align_corners=False,
                             antialias=True)[0].numpy()


class GlmImageProcessorTorchvisionResampling(GlmImageImageProcessorPil, _TorchvisionResize):
    pass


def test_image(height, width, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(height).view(-1, 1, 1).float()
    x = torch.arange(width).view(1, -1, 1).float()
    c = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3)
    base = (y * 255 / height) * (c == 1) + (x * 255 / width) * (c == 2) + ((x + y) * 2.0 % 256) * (c == 3)
    noise = torch.randint(-40, 41, (height, width, 3), generator=g).float()
    return (base + noise).clamp(0, 255).to(torch.uint8)  # [H, W, 3] RGB


def make_processor(out_dir):
    folder = os.path.join(out_dir, "vision_processor")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump(PROCESSOR, f, indent=1)
    fast = GlmImageProcessorTorchvisionResampling.from_pretrained(folder)
    pil = GlmImageImageProcessorPil.from_pretrained(folder)
    # small: the min-side upscaling (20 < 32); mid: no scaling; large: the max-side clamp (70 > 64).
    images = {"small": test_image(20, 30, 1), "mid": test_image(40, 56, 2), "large": test_image(45, 70, 3)}
    io = {}
    for key, img in images.items():
        chw = img.permute(2, 0, 1).numpy()
        out = fast(images=[chw], input_data_format="channels_first", return_tensors="pt")
        ref_pil = pil(images=[chw], input_data_format="channels_first", return_tensors="pt")
        assert torch.equal(out["image_grid_thw"], ref_pil["image_grid_thw"])
        io["image_" + key] = img.contiguous()
        io["pixel_values_" + key] = out["pixel_values"].float().contiguous()
        io["pixel_values_" + key + "_pil"] = ref_pil["pixel_values"].float().contiguous()
        io["image_grid_thw_" + key] = out["image_grid_thw"].contiguous()
        diff = (out["pixel_values"] - ref_pil["pixel_values"]).abs().max().item()
        print(f"processor {key}: {tuple(img.shape)} -> grid {out['image_grid_thw'].tolist()}, "
              f"torchvision-vs-PIL resampling max |diff| {diff:.4f}")
    # The uint8 kernel alone on noise (its clamp between passes matters there), up and down, one
    # axis or both: resize_in_i [3, H, W] -> resize_out_i.
    g = torch.Generator().manual_seed(4)
    for i, ((h, w), (oh, ow)) in enumerate([((17, 23), (40, 9)), ((31, 29), (8, 50)), ((12, 40), (25, 25)),
                                            ((50, 50), (7, 13)), ((9, 64), (9, 20)), ((40, 11), (13, 11))]):
        img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)
        io[f"resize_in_{i}"] = img
        io[f"resize_out_{i}"] = F.interpolate(img[None], size=(oh, ow), mode="bicubic", align_corners=False,
                                              antialias=True)[0].contiguous()
    save_file(io, os.path.join(out_dir, "vision_processor_io.safetensors"),
              metadata={"producer": "scripts/reference/make_vision_golden.py", "transformers": transformers.__version__})
    # smart_resize with the checkpoint's bounds (factor 16, [512^2, 2048^2]) and a few odd ones.
    real = dict(factor=16, min_pixels=262144, max_pixels=4194304)
    sizes = [(45, 70), (70, 45), (512, 512), (1024, 768), (768, 1360), (2048, 2048), (3000, 1000), (4000, 3000),
             (528, 600), (560, 600), (600, 528), (100, 399), (100, 401), (10, 20), (16, 16), (1500, 17)]
    cases = [dict(height=h, width=w, **real) for h, w in sizes]
    cases += [dict(height=40, width=20, factor=16, min_pixels=100, max_pixels=144),
              dict(height=45, width=70, factor=4, min_pixels=1024, max_pixels=4096),
              dict(height=33, width=47, factor=28, min_pixels=56 * 56, max_pixels=28 * 28 * 1280)]
    for c in cases:
        try:
            c["expected"] = list(smart_resize(c["height"], c["width"], factor=c["factor"], min_pixels=c["min_pixels"],
                                              max_pixels=c["max_pixels"]))
        except ValueError as e:
            c["error"] = "aspect ratio" if "aspect ratio" in str(e) else "larger than factor"
    with open(os.path.join(folder, "smart_resize_cases.json"), "w") as f:
        json.dump({"producer": "scripts/reference/make_vision_golden.py", "transformers": transformers.__version__,
                   "cases": cases}, f, indent=1)


def main(out_dir):
    make_vision(out_dir)
    make_processor(out_dir)
    print(f"wrote vision_tiny and vision_processor (transformers {transformers.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
