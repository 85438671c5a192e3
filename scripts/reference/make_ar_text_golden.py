"""Golden for glmh's AR decoder: transformers' GlmImageTextModel (sandwich RMSNorm, GQA with q/k/v
bias, partial NeoX M-RoPE with mrope_section) plus a vision-vocabulary LM head, small, random
weights. Writes golden/reference/ar_tiny/ (config.json nested like vision_language_encoder/'s,
model.safetensors with the checkpoint's tensor names) and ar_tiny_io.safetensors (input_ids,
3-D position_ids with distinct t/h/w rows, logits; fp32 CPU).
Usage: /work/ref-venv/bin/python scripts/reference/make_ar_text_golden.py [OUT_DIR]
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers.models.glm_image.configuration_glm_image import GlmImageTextConfig
from transformers.models.glm_image.modeling_glm_image import GlmImageTextModel

TEXT = dict(vocab_size=300, vision_vocab_size=80, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=8, num_key_value_heads=2, head_dim=16, hidden_act="silu", rms_norm_eps=1e-5,
            attention_bias=True, max_position_embeddings=4096, pad_token_id=0,
            rope_parameters={"rope_type": "default", "rope_theta": 100.0, "partial_rotary_factor": 0.5,
                             "mrope_section": [2, 1, 1]})


def main(out_dir):
    torch.manual_seed(20261128)
    config = GlmImageTextConfig(**TEXT)
    model = GlmImageTextModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    lm_head = torch.randn(TEXT["vision_vocab_size"], TEXT["hidden_size"]) * 0.2
    component = os.path.join(out_dir, "ar_tiny")
    os.makedirs(component, exist_ok=True)
    tensors = {"model.language_model." + k: v.contiguous() for k, v in model.state_dict().items()}
    tensors["lm_head.weight"] = lm_head
    save_file(tensors, os.path.join(component, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(component, "config.json"), "w") as f:
        json.dump({"architectures": ["GlmImageForConditionalGeneration"], "model_type": "glm_image",
                   "text_config": TEXT}, f, indent=1)
    seq = 12
    ids = torch.randint(0, TEXT["vocab_size"], (1, seq))
    # Text positions for 6 tokens, then a 2 x 3 grid at t = 6: h = 6 + row, w = 6 + col.
    t = torch.tensor([0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6])
    h = torch.tensor([0, 1, 2, 3, 4, 5, 6, 6, 6, 7, 7, 7])
    w = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 6, 7, 8])
    position_ids = torch.stack([t, h, w]).unsqueeze(1)  # [3, 1, S]
    with torch.no_grad():
        hidden = model(input_ids=ids, position_ids=position_ids).last_hidden_state
    save_file({"input_ids": ids, "position_ids": position_ids, "logits": (hidden @ lm_head.T).contiguous()},
              os.path.join(out_dir, "ar_tiny_io.safetensors"),
              metadata={"producer": "scripts/reference/make_ar_text_golden.py", "transformers": transformers.__version__})
    print(f"wrote ar_tiny (transformers {transformers.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
