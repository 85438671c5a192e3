"""Golden for glmh's DiT reference-image KV cache (image-to-image): diffusers' GlmImageKVCache.

Uses the tiny DiT of golden/reference/dit_tiny/ (written by make_dit_golden.py) and mirrors how
diffusers' GlmImagePipeline fills and uses the cache:
  write  two reference latents of different non-square sizes (2 x 4 and 4 x 3 patches), one pass
         each, with empty glyph text, their own 1-D prior ids (nothing dropped), timestep 0,
         target_size = the reference image's pixel size (int64, as the pipeline builds it), crop 0;
  read   the conditional pass on a 3 x 5 patch target latent with glyph embeds, mid timestep;
  skip   the unconditional-style pass on the same inputs (the cache is present but ignored).
Writes golden/reference/dit_kv_cache_io.safetensors (fp32 CPU):
  ref_{i}_latents, ref_{i}_prior_token_id [N_i], ref_{i}_target_size [1,2] int64   for i = 0, 1
  latents, glyph_embeds, prior_token_id, prior_token_drop, timestep, target_size, crop_coords
  sample_write_0, sample_write_1, sample_read, sample_skip                         the outputs
  cache_key_{l}, cache_value_{l}   upstream's cache of layer l after both writes, [1, N_0+N_1, H, D]
Usage: /work/ref-venv/bin/python scripts/reference/make_dit_kv_cache_golden.py [OUT_DIR]
"""
import os
import sys

import diffusers
import torch
from diffusers import GlmImageTransformer2DModel
from diffusers.models.transformers.transformer_glm_image import GlmImageKVCache
from safetensors.torch import save_file


def main(out_dir):
    torch.manual_seed(20261129)
    model = GlmImageTransformer2DModel.from_pretrained(os.path.join(out_dir, "dit_tiny")).eval()
    cfg = model.config
    codebook = cfg.prior_vq_quantizer_codebook_size

    def tokens(h, w):
        return (h // cfg.patch_size) * (w // cfg.patch_size)

    refs = [(4, 8), (8, 6)]  # latent H' x W' of the two reference images: 2 x 4 and 4 x 3 patches
    inputs = {}
    for i, (h, w) in enumerate(refs):
        inputs[f"ref_{i}_latents"] = torch.randn(1, cfg.in_channels, h, w)  # stands for (z - mean) / std
        inputs[f"ref_{i}_prior_token_id"] = torch.randint(0, codebook, (tokens(h, w),))
        inputs[f"ref_{i}_target_size"] = torch.tensor([[h * 8, w * 8]])
    h, w = 6, 10  # target: 3 x 5 patches
    n = tokens(h, w)
    inputs.update({
        "latents": torch.randn(1, cfg.in_channels, h, w),
        "glyph_embeds": torch.randn(1, 5, cfg.text_embed_dim),
        "prior_token_id": torch.randint(0, codebook, (1, n)),
        "prior_token_drop": torch.zeros(1, n, dtype=torch.bool),
        "timestep": torch.tensor([519.0]),
        "target_size": torch.tensor([[h * 8.0, w * 8.0]]),
        "crop_coords": torch.zeros(1, 2),
    })

    kv_caches = GlmImageKVCache(num_layers=cfg.num_layers)
    outputs = {}
    with torch.no_grad():
        kv_caches.set_mode("write")
        for i in range(len(refs)):
            ids = inputs[f"ref_{i}_prior_token_id"]
            outputs[f"sample_write_{i}"] = model(
                hidden_states=inputs[f"ref_{i}_latents"],
                encoder_hidden_states=torch.zeros(1, 0, cfg.text_embed_dim),
                prior_token_id=ids, prior_token_drop=torch.full_like(ids, False, dtype=torch.bool),
                timestep=torch.zeros((1,)), target_size=inputs[f"ref_{i}_target_size"],
                crop_coords=torch.zeros((1, 2)), kv_caches=kv_caches, return_dict=False)[0]
        kv_caches.next_sample()  # as the pipeline does after one prompt's reference images

        def target_pass(mode):
            kv_caches.set_mode(mode)
            return model(hidden_states=inputs["latents"], encoder_hidden_states=inputs["glyph_embeds"],
                         prior_token_id=inputs["prior_token_id"], prior_token_drop=inputs["prior_token_drop"],
                         timestep=inputs["timestep"], target_size=inputs["target_size"],
                         crop_coords=inputs["crop_coords"], kv_caches=kv_caches, return_dict=False)[0]
        outputs["sample_read"] = target_pass("read")
        outputs["sample_skip"] = target_pass("skip")
    for layer in range(cfg.num_layers):
        (key,), (value,) = kv_caches[layer].k_caches, kv_caches[layer].v_caches
        outputs[f"cache_key_{layer}"] = key
        outputs[f"cache_value_{layer}"] = value

    tensors = {k: v.contiguous() for k, v in {**inputs, **outputs}.items()}
    meta = {"producer": "scripts/reference/make_dit_kv_cache_golden.py", "diffusers": diffusers.__version__,
            "torch": torch.__version__, "model": "dit_tiny"}
    path = os.path.join(out_dir, "dit_kv_cache_io.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"wrote {path} (diffusers {diffusers.__version__}, torch {torch.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
