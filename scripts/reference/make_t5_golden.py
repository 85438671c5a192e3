"""Golden for glmh's glyph encoder: transformers' T5EncoderModel (ByT5-style, gated GELU) with
small random weights. Writes golden/reference/t5_tiny/ (config.json, model.safetensors) and
t5_tiny_io.safetensors (input_ids, attention_mask, last_hidden_state; fp32 CPU).
Usage: /work/ref-venv/bin/python scripts/reference/make_t5_golden.py [OUT_DIR]
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import T5Config, T5EncoderModel

CONFIG = dict(vocab_size=384, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
              relative_attention_num_buckets=32, relative_attention_max_distance=128,
              layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu", is_encoder_decoder=False)


def main(out_dir):
    torch.manual_seed(20261128)
    model = T5EncoderModel(T5Config(**CONFIG)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    component = os.path.join(out_dir, "t5_tiny")
    model.save_pretrained(component, safe_serialization=True)
    # Two strings of byte ids (byte + 3, EOS 1), the second right-padded with 0; long enough
    # (150 tokens) that relative distances reach the logarithmic buckets and max_distance.
    ids = torch.zeros(2, 150, dtype=torch.long)
    ids[0] = torch.randint(3, 259, (150,))
    ids[0, -1] = 1
    ids[1, :20] = torch.randint(3, 259, (20,))
    ids[1, 20] = 1
    mask = (torch.arange(150)[None, :] <= torch.tensor([[149], [20]])).long()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    meta = {"producer": "scripts/reference/make_t5_golden.py", "transformers": transformers.__version__,
            "torch": torch.__version__, "config": json.dumps(CONFIG)}
    save_file({"input_ids": ids, "attention_mask": mask, "last_hidden_state": out.contiguous()},
              os.path.join(out_dir, "t5_tiny_io.safetensors"), metadata=meta)
    print(f"wrote {component} (transformers {transformers.__version__}, torch {torch.__version__})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
