"""Golden for glmh's DiT: diffusers' GlmImageTransformer2DModel with small random weights.

Writes, under golden/reference/:
  dit_tiny/config.json, dit_tiny/diffusion_pytorch_model.safetensors   the component, upstream layout
  dit_tiny_io.safetensors   inputs (latents, glyph_embeds, prior_token_id, prior_token_drop,
                            target_size, crop_coords, timesteps [3]) and, per timestep k,
                            velocity_k and velocity_dropped_k (every prior token dropped), fp32 CPU
3 attention heads (not a power of two) and a non-square 3 x 5 patch grid.
Usage: /work/ref-venv/bin/python scripts/reference/make_dit_golden.py [OUT_DIR]
"""
import json
import os
import sys

import diffusers
import torch
from diffusers import GlmImageTransformer2DModel
from safetensors.torch import save_file

CONFIG = dict(patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=8,
              num_attention_heads=3, text_embed_dim=24, time_embed_dim=16, condition_dim=8,
              prior_vq_quantizer_codebook_size=64)


def main(out_dir):
    torch.manual_seed(20261128)
    model = GlmImageTransformer2DModel(**CONFIG).eval()
    with torch.no_grad():
        for p in model.parameters():  # default inits leave some layers at zero; make every path count
            p.copy_(torch.randn_like(p) * 0.2)
    component = os.path.join(out_dir, "dit_tiny")
    model.save_pretrained(component, safe_serialization=True)

    h, w = 6, 10  # latent grid 3 x 5 patches: non-square
    n = (h // 2) * (w // 2)
    inputs = {
        "latents": torch.randn(1, 16, h, w),
        "glyph_embeds": torch.randn(1, 5, CONFIG["text_embed_dim"]),
        "prior_token_id": torch.randint(0, CONFIG["prior_vq_quantizer_codebook_size"], (1, n)),
        "prior_token_drop": torch.zeros(1, n, dtype=torch.bool),
        "timesteps": torch.tensor([999.0, 519.0, 19.0]),  # unshifted t - 1 at three points
        "target_size": torch.tensor([[h * 8.0, w * 8.0]]),
        "crop_coords": torch.zeros(1, 2),
    }
    with torch.no_grad():
        def run(drop, t):
            return model(hidden_states=inputs["latents"], encoder_hidden_states=inputs["glyph_embeds"],
                         prior_token_id=inputs["prior_token_id"], prior_token_drop=drop,
                         timestep=t.view(1), target_size=inputs["target_size"],
                         crop_coords=inputs["crop_coords"], return_dict=False)[0]
        outputs = {}
        for k, t in enumerate(inputs["timesteps"]):
            outputs[f"velocity_{k}"] = run(inputs["prior_token_drop"], t)
            outputs[f"velocity_dropped_{k}"] = run(torch.ones(1, n, dtype=torch.bool), t)
    tensors = {k: v.contiguous() for k, v in {**inputs, **outputs}.items()}
    meta = {"producer": "scripts/reference/make_dit_golden.py", "diffusers": diffusers.__version__,
            "torch": torch.__version__, "config": json.dumps(CONFIG)}
    save_file(tensors, os.path.join(out_dir, "dit_tiny_io.safetensors"), metadata=meta)
    print(f"wrote {component} and dit_tiny_io.safetensors (diffusers {diffusers.__version__}, torch {torch.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
