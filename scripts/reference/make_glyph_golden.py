"""Golden for glmh's glyph path: quoted-text extraction (diffusers' four regexes, in upstream's
order), ByT5 byte ids (transformers' ByT5Tokenizer), the even-count pad quirk, and the
concatenation of every valid token state through the tiny T5 of make_t5_golden.py.
Writes golden/reference/glyph_cases.json and glyph_tiny_io.safetensors.
Usage: /work/ref-venv/bin/python scripts/reference/make_glyph_golden.py [OUT_DIR]
"""
import json
import os
import re
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import ByT5Tokenizer, T5EncoderModel

PROMPTS = [
    "a cat",                                                     # no quotes -> [""]
    "a sign that reads 'OPEN'",                                  # one string (odd count)
    "say 'hi' and \"bye\"",                                      # two strings (even count: pad quirk)
    "“左” then 「右」 then 'x' and \"\" and 'unterminated",      # all four styles, an empty match
    "Poster: \"GLM-Image\" — 「图像生成」 “naïve café” 'ü'",     # multi-byte UTF-8
]


def glyph_texts(prompt):  # diffusers' get_glyph_texts, in its order
    return (re.findall(r"'([^']*)'", prompt) + re.findall(r"“([^“”]*)”", prompt)
            + re.findall(r'"([^"]*)"', prompt) + re.findall(r"「([^「」]*)」", prompt))


def main(out_dir):
    tok = ByT5Tokenizer()
    model = T5EncoderModel.from_pretrained(os.path.join(out_dir, "t5_tiny")).eval()
    cases, tensors = [], {}
    for i, prompt in enumerate(PROMPTS):
        texts = glyph_texts(prompt)
        ids = tok(texts if texts else [""], max_length=2048, truncation=True).input_ids
        ids = [[tok.pad_token_id] * ((len(ids) + 1) % 2) + item for item in ids]
        longest = max(len(item) for item in ids)
        mask = torch.tensor([[1] * len(item) + [0] * (longest - len(item)) for item in ids])
        padded = torch.tensor([item + [tok.pad_token_id] * (longest - len(item)) for item in ids])
        with torch.no_grad():
            states = model(padded, attention_mask=mask).last_hidden_state
        tensors[f"case{i}.input_ids"] = padded
        tensors[f"case{i}.attention_mask"] = mask
        tensors[f"case{i}.glyph_embeds"] = states[mask.bool()].unsqueeze(0).contiguous()
        cases.append({"prompt": prompt, "glyph_texts": texts})
    with open(os.path.join(out_dir, "glyph_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"producer": "scripts/reference/make_glyph_golden.py", "transformers": transformers.__version__,
                   "cases": cases}, f, ensure_ascii=False, indent=1)
    save_file(tensors, os.path.join(out_dir, "glyph_tiny_io.safetensors"))
    print("wrote glyph_cases.json and glyph_tiny_io.safetensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
