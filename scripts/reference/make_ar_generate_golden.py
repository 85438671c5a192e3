"""Golden for glmh's AR generation loop: transformers' GlmImageForConditionalGeneration.generate
(greedy) on a tiny random model with the vision tower and VQ, for text-to-image (preview grid, then
target grid, then the end marker) and image-to-image (a source image whose placeholders the model
replaces by its VQ ids), plus Hugging Face's sampling warpers (temperature, top-k, top-p) on fixed
logits for the sampler's distribution test.
The LM-head rows of every id outside the codebook are zero, so greedy decoding stays on codebook ids
and never meets the end marker early: upstream's loop and glmh's (which stops by count) agree.
Writes golden/reference/ar_generate_tiny/ and ar_generate_io.safetensors (fp32 CPU).
Usage: /work/ref-venv/bin/python scripts/reference/make_ar_generate_golden.py [OUT_DIR]
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import GlmImageConfig, GlmImageForConditionalGeneration
from transformers.generation.logits_process import (LogitsProcessorList, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper)

CODEBOOK, START, END, PLACEHOLDER = 64, 64, 65, 70
TEXT = dict(vocab_size=300, vision_vocab_size=80, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=6, num_key_value_heads=2, head_dim=32, hidden_act="silu", rms_norm_eps=1e-5,
            attention_bias=True, max_position_embeddings=4096, pad_token_id=0, eos_token_id=END,
            rope_parameters={"rope_type": "default", "rope_theta": 100.0, "partial_rotary_factor": 0.5,
                             "mrope_section": [2, 3, 3]})
VISION = dict(depth=1, hidden_size=24, num_heads=3, intermediate_size=48, image_size=32, patch_size=4,
              in_channels=3, layer_norm_eps=1e-6, attention_bias=True, spatial_merge_size=1)
VQ = dict(embed_dim=16, num_embeddings=CODEBOOK, latent_channels=24, in_channels=3)


def main(out_dir):
    torch.manual_seed(20261128)
    config = GlmImageConfig(text_config=TEXT, vision_config=VISION, vq_config=VQ, image_token_id=PLACEHOLDER,
                            image_start_token_id=START, image_end_token_id=END)
    model = GlmImageForConditionalGeneration(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        model.lm_head.weight[CODEBOOK:].zero_()
    component = os.path.join(out_dir, "ar_generate_tiny")
    os.makedirs(component, exist_ok=True)
    model.save_pretrained(component, safe_serialization=True)
    # Keep only what glmh reads; the saved config carries every default too.
    with open(os.path.join(component, "config.json")) as f:
        saved = json.load(f)
    with open(os.path.join(component, "config.json"), "w") as f:
        json.dump(saved, f, indent=1, sort_keys=True)
    for extra in ("generation_config.json",):
        path = os.path.join(component, extra)
        if os.path.exists(path):
            os.remove(path)

    io = {}
    gen = dict(do_sample=False, num_beams=1, pad_token_id=0, eos_token_id=END)
    # Text to image: prompt text, image start, grids [target, preview]; preview generated first.
    prompt = torch.randint(CODEBOOK + 16, TEXT["vocab_size"], (1, 7))
    t2i_ids = torch.cat([prompt, torch.tensor([[START]])], 1)
    t2i_grids = torch.tensor([[1, 4, 6], [1, 3, 2]])
    t2i_new = 4 * 6 + 3 * 2 + 1
    with torch.no_grad():
        out = model.generate(input_ids=t2i_ids, attention_mask=torch.ones_like(t2i_ids), image_grid_thw=t2i_grids,
                             max_new_tokens=t2i_new, **gen)
    io.update(t2i_input_ids=t2i_ids, t2i_image_grid_thw=t2i_grids, t2i_generated_ids=out[:, t2i_ids.shape[1]:].contiguous())
    assert io["t2i_generated_ids"].shape[1] == t2i_new

    # Image to image: start, 2 x 3 placeholders, end, prompt, image start; grids [source, target].
    src_h, src_w = 2, 3
    i2i_ids = torch.cat([torch.tensor([[START] + [PLACEHOLDER] * (src_h * src_w) + [END]]), prompt, torch.tensor([[START]])], 1)
    i2i_grids = torch.tensor([[1, src_h, src_w], [1, 3, 5]])
    patch = VISION["patch_size"]
    pixel_values = torch.rand(src_h * src_w, 3 * patch * patch) * 2 - 1
    i2i_new = 3 * 5 + 1
    with torch.no_grad():
        features = model.model.get_image_features(pixel_values, i2i_grids[:1], return_dict=True).pooler_output
        vq_ids = model.model.get_image_tokens(features).view(-1)
        out = model.generate(input_ids=i2i_ids, attention_mask=torch.ones_like(i2i_ids), pixel_values=pixel_values,
                             image_grid_thw=i2i_grids, images_per_sample=torch.tensor([2]), max_new_tokens=i2i_new, **gen)
    io.update(i2i_input_ids=i2i_ids, i2i_image_grid_thw=i2i_grids, i2i_pixel_values=pixel_values, i2i_vq_ids=vq_ids,
              i2i_generated_ids=out[:, i2i_ids.shape[1]:].contiguous())
    assert io["i2i_generated_ids"].shape[1] == i2i_new

    # Sampling warpers on fixed logits: the distribution glmh's sampler must draw from.
    logits = torch.randn(1, 40) * 0.8
    for name, (temperature, top_k, top_p) in {"checkpoint": (0.9, 0, 0.75), "top_k": (1.3, 5, 1.0),
                                               "all": (0.7, 12, 0.6)}.items():
        warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)] +
                                      ([TopKLogitsWarper(top_k)] if top_k else []) +
                                      ([TopPLogitsWarper(top_p)] if top_p < 1 else []))
        io[f"sampling_{name}_probs"] = warpers(torch.zeros(1, 1, dtype=torch.long), logits.clone()).softmax(-1)
        io[f"sampling_{name}_settings"] = torch.tensor([temperature, float(top_k), top_p], dtype=torch.float64)
    io["sampling_logits"] = logits
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out_dir, "ar_generate_io.safetensors"),
              metadata={"producer": "scripts/reference/make_ar_generate_golden.py", "transformers": transformers.__version__})
    print(f"wrote ar_generate_tiny (transformers {transformers.__version__}): t2i {io['t2i_generated_ids'].tolist()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
