"""Golden for glmh's VAE: diffusers' AutoencoderKL configured like GLM-Image's (no mid-block
attention, no quant convs, per-channel latents_mean/std), small and with random weights.
Writes golden/reference/vae_tiny/ and vae_tiny_io.safetensors (latents -> image through
decode, image -> posterior mode through encode; fp32 CPU).
Usage: /work/ref-venv/bin/python scripts/reference/make_vae_golden.py [OUT_DIR]
"""
import os
import sys

import diffusers
import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file


def main(out_dir):
    torch.manual_seed(20261128)
    latent = 4
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=latent,
                        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
                        block_out_channels=[8, 16, 16], layers_per_block=2, norm_num_groups=4,
                        use_quant_conv=False, use_post_quant_conv=False, mid_block_add_attention=False,
                        latents_mean=[0.1, -0.2, 0.3, -0.4], latents_std=[1.5, 0.5, 2.0, 1.0]).eval()
    with torch.no_grad():
        for p in vae.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    vae.save_pretrained(os.path.join(out_dir, "vae_tiny"), safe_serialization=True)
    z = torch.randn(1, latent, 3, 5)          # non-square; decodes to 12 x 20 (3 blocks: x4)
    image = torch.rand(1, 3, 12, 20) * 2 - 1
    with torch.no_grad():
        decoded = vae.decode(z).sample
        mode = vae.encode(image).latent_dist.mode()
    save_file({"z": z, "decoded": decoded.contiguous(), "image": image, "mode": mode.contiguous()},
              os.path.join(out_dir, "vae_tiny_io.safetensors"),
              metadata={"producer": "scripts/reference/make_vae_golden.py", "diffusers": diffusers.__version__,
                        "torch": torch.__version__})
    print(f"wrote vae_tiny (diffusers {diffusers.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
