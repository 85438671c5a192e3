"""Goldens for config fields GLM-Image itself does not use but its formats allow, so that glmh
follows them instead of computing with GLM-Image's choice: the tiny AR decoder (golden/reference/
ar_tiny) run by transformers with text_config.hidden_act = "gelu" and with 2-D position_ids
[batch, seq], and the tiny VAE (golden/reference/vae_tiny) run by diffusers with act_fn = "relu".
The weights are those of the existing tiny goldens; only the config changes. Writes
config_variants_io.safetensors (fp32 CPU).
Usage: /work/ref-venv/bin/python scripts/reference/make_config_variants_golden.py [GOLDEN_REFERENCE_DIR]
"""
import json
import os
import sys

import diffusers
import torch
import transformers
from diffusers import AutoencoderKL
from safetensors.torch import load_file, save_file
from transformers.models.glm_image.configuration_glm_image import GlmImageTextConfig
from transformers.models.glm_image.modeling_glm_image import GlmImageTextModel


def ar_logits(golden, text_config, input_ids, position_ids):
    model = GlmImageTextModel(GlmImageTextConfig(**text_config)).eval()
    weights = load_file(os.path.join(golden, "ar_tiny", "model.safetensors"))
    prefix = "model.language_model."
    model.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})
    with torch.no_grad():
        hidden = model(input_ids=input_ids, position_ids=position_ids).last_hidden_state
    return (hidden @ weights["lm_head.weight"].T).contiguous()


def main(golden):
    io = load_file(os.path.join(golden, "ar_tiny_io.safetensors"))
    with open(os.path.join(golden, "ar_tiny", "config.json")) as f:
        text = json.load(f)["text_config"]
    ids = io["input_ids"]
    out = {"ar_input_ids": ids, "ar_position_ids": io["position_ids"]}
    out["ar_logits_gelu"] = ar_logits(golden, dict(text, hidden_act="gelu"), ids, io["position_ids"])
    flat = torch.arange(ids.shape[1]).unsqueeze(0)  # [1, S]: the same position on every rotary axis
    out["ar_position_ids_2d"] = flat
    out["ar_logits_2d_positions"] = ar_logits(golden, text, ids, flat)

    vae_dir = os.path.join(golden, "vae_tiny")
    vae_io = load_file(os.path.join(golden, "vae_tiny_io.safetensors"))
    with open(os.path.join(vae_dir, "config.json")) as f:
        vae_config = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    vae = AutoencoderKL(**dict(vae_config, act_fn="relu")).eval()
    vae.load_state_dict(load_file(os.path.join(vae_dir, "diffusion_pytorch_model.safetensors")))
    with torch.no_grad():
        out["vae_z"] = vae_io["z"]
        out["vae_decoded_relu"] = vae.decode(vae_io["z"]).sample.contiguous()
    save_file(out, os.path.join(golden, "config_variants_io.safetensors"),
              metadata={"producer": "scripts/reference/make_config_variants_golden.py",
                        "transformers": transformers.__version__, "diffusers": diffusers.__version__})
    print(f"wrote config_variants_io.safetensors (transformers {transformers.__version__}, diffusers {diffusers.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
