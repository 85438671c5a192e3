"""Golden for glmh's AR prompt construction: transformers' GlmImageProcessor, called the way
diffusers' GlmImagePipeline.generate_prior_tokens calls it (apply_chat_template on one user
message, tokenize=True, target_h / target_w), with the tiny tokenizer of
make_tokenizer_golden.py (run that first), GLM-Image's processor tokenizer_config and chat
template, and a GlmImageImageProcessorPil with GLM-Image's preprocessor config (patch 16,
temporal patch 1, merge 1) -- plus one image-to-image case with the class defaults (merge 2).
Writes golden/reference/ar_prompt_cases.json: per case the prompt, size, source grids, the text
the tokenizer encodes, input_ids and image_grid_thw.
Usage: /work/ref-venv/bin/python scripts/reference/make_ar_prompt_golden.py [OUT_DIR]
"""
import json
import os
import shutil
import sys
import tempfile

import transformers
from PIL import Image
from transformers import AutoTokenizer
from transformers.models.glm_image.image_processing_pil_glm_image import GlmImageImageProcessorPil
from transformers.models.glm_image.processing_glm_image import GlmImageProcessor

# zai-org/GLM-Image processor/chat_template.jinja.
CHAT_TEMPLATE = (
    "{%- for m in messages -%}\n{%- if m.content is string -%}\n{{ m.content }}\n{%- else -%}\n"
    "{%- for item in m.content -%}\n{%- if item.type == 'image' or item.get('image') is not none -%}\n"
    "<|dit_token_16384|><|image|><|dit_token_16385|>\n{%- elif item.type == 'text' -%}\n{{ item.text }}\n"
    "{%- endif -%}\n{%- endfor -%}\n{%- endif -%}\n{%- endfor -%}")

# processor/tokenizer_config.json of GLM-Image (as mirrored by Disty0/GLM-Image-SDNQ-4bit-dynamic).
EXTRA_SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
                  "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
                  "<|end_of_video|>", "<|image|>", "<|video|>"]
TOKENIZER_CONFIG = {
    "backend": "tokenizers", "bos_token": "<|dit_token_16384|>", "clean_up_tokenization_spaces": False,
    "do_lower_case": False, "eos_token": "<|dit_token_16385|>", "extra_special_tokens": EXTRA_SPECIALS,
    "grid_bos_token": "<sop>", "grid_eos_token": "<eop>", "image_token": "<|image|>",
    "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 65536,
    "model_specific_special_tokens": {"grid_bos_token": "<sop>", "grid_eos_token": "<eop>", "image_token": "<|image|>"},
    "pad_token": "<|dit_token_16385|>", "padding_side": "left", "processor_class": "GlmImageProcessor",
    "remove_space": False, "tokenizer_class": "TokenizersBackend"}

# processor/preprocessor_config.json of GLM-Image (docs/model.md#image-processor).
CHECKPOINT_IMAGE_PROCESSOR = dict(size={"shortest_edge": 262144, "longest_edge": 4194304}, patch_size=16,
                                  temporal_patch_size=1, merge_size=1, image_mean=[0.5, 0.5, 0.5],
                                  image_std=[0.5, 0.5, 0.5], resample=3)

PROMPT = "A red fox in the snow, with the sign “GLM-Image” and 「你好」; don't blur it."

T2I = [("square_512", 512, 512), ("square_1024", 1024, 1024), ("1024x1152", 1024, 1152), ("square_2048", 2048, 2048),
       ("1056x1568", 1056, 1568), ("1280x720", 1280, 720), ("not_multiple_of_32_1000", 1000, 1000),
       ("not_multiple_of_32_1000x1500", 1000, 1500)]
# (name, target H, W, source image sizes (w, h), image processor settings)
I2I = [("one_source", 1024, 1024, [(512, 512)], CHECKPOINT_IMAGE_PROCESSOR),
       ("two_sources", 1024, 768, [(640, 480), (512, 768)], CHECKPOINT_IMAGE_PROCESSOR),
       ("class_default_merge_2", 1024, 1024, [(448, 448)], {})]


def processor_with(tokenizer, image_settings):
    processor = GlmImageProcessor(image_processor=GlmImageImageProcessorPil(**image_settings), tokenizer=tokenizer,
                                  chat_template=CHAT_TEMPLATE)
    captured = {}
    original = processor.get_text_with_replacements

    def capture(text, *args, **kwargs):  # the text as the tokenizer receives it
        out = original(text, *args, **kwargs)
        captured["text"] = out[0]
        return out

    processor.get_text_with_replacements = capture
    return processor, captured


def run(processor, captured, prompt, height, width, images):
    content = [{"type": "image", "image": im} for im in images] + [{"type": "text", "text": prompt}]
    inputs = processor.apply_chat_template([[{"role": "user", "content": content}]], tokenize=True, padding=False,
                                           target_h=height, target_w=width, return_dict=True, return_tensors="pt")
    assert inputs["input_ids"].shape[0] == 1
    return {"text": captured["text"][0], "input_ids": inputs["input_ids"][0].tolist(),
            "image_grid_thw": inputs["image_grid_thw"].tolist(), "images_per_sample": inputs["images_per_sample"].tolist()}


def main(out_dir):
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(out_dir, "tokenizer_tiny", "tokenizer.json"), tmp)
        with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
            json.dump(TOKENIZER_CONFIG, f)
        tokenizer = AutoTokenizer.from_pretrained(tmp)
    finally:
        shutil.rmtree(tmp)
    assert tokenizer.image_token == "<|image|>" and tokenizer.grid_bos_token == "<sop>"

    cases = []
    processor, captured = processor_with(tokenizer, CHECKPOINT_IMAGE_PROCESSOR)
    for name, h, w in T2I:
        cases.append({"name": name, "mode": "t2i", "prompt": PROMPT, "height": h, "width": w, "source_grids": [],
                      "merge_size": 1, **run(processor, captured, PROMPT, h, w, [])})
    for name, h, w, sizes, settings in I2I:
        processor, captured = processor_with(tokenizer, settings)
        images = [Image.new("RGB", size, (120, 60, 30)) for size in sizes]
        case = {"name": name, "mode": "i2i", "prompt": PROMPT, "height": h, "width": w,
                "merge_size": processor.image_processor.merge_size, **run(processor, captured, PROMPT, h, w, images)}
        case["source_grids"] = case["image_grid_thw"][:len(images)]
        cases.append(case)
    with open(os.path.join(out_dir, "ar_prompt_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"producer": "scripts/reference/make_ar_prompt_golden.py", "transformers": transformers.__version__,
                   "tokenizer": "tokenizer_tiny/tokenizer.json", "chat_template": CHAT_TEMPLATE, "cases": cases},
                  f, ensure_ascii=False)
    print(f"wrote ar_prompt_cases.json ({len(cases)} cases)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
