"""Golden for glmh's AR-output handling: diffusers' GlmImagePipeline helpers
_compute_generation_params (max_new_tokens, where the target grid starts, its size),
_extract_large_image_tokens and _upsample_token_ids (nearest x2 from the d32 to the d16 grid), for
a text-to-image case (target 4 x 6, preview 2 x 3) and an image-to-image case.
Writes golden/reference/prior_tokens_cases.json.
Usage: /work/ref-venv/bin/python scripts/reference/make_prior_tokens_golden.py [OUT_DIR]
"""
import json
import os
import sys

import diffusers
import torch
from diffusers.pipelines.glm_image.pipeline_glm_image import GlmImagePipeline as P


def main(out_dir):
    torch.manual_seed(20261128)
    cases = []
    for name, grids, t2i in [("t2i", [[1, 4, 6], [1, 2, 3]], True), ("i2i", [[1, 2, 2], [1, 4, 6]], False)]:
        max_new, offset, th, tw = P._compute_generation_params(torch.tensor(grids), is_text_to_image=t2i)
        prompt_len = 5
        outputs = torch.randint(0, 16384, (1, prompt_len + max_new))
        d32 = P._extract_large_image_tokens(outputs, prompt_len, offset, th * tw)
        prior = P._upsample_token_ids(d32, th, tw)
        cases.append({"name": name, "grids": grids, "text_to_image": t2i, "max_new_tokens": max_new,
                      "target_offset": offset, "target_h": th, "target_w": tw, "prompt_len": prompt_len,
                      "outputs": outputs[0].tolist(), "prior_token_ids": prior[0].tolist()})
    with open(os.path.join(out_dir, "prior_tokens_cases.json"), "w") as f:
        json.dump({"producer": "scripts/reference/make_prior_tokens_golden.py", "diffusers": diffusers.__version__,
                   "cases": cases}, f)
    print("wrote prior_tokens_cases.json")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
