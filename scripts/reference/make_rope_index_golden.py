"""Golden for glmh's AR 3-D position ids: transformers' GlmImageModel.get_rope_index (prefill
positions and the cached decode positions) for a text-to-image prompt (target + preview grids)
and an image-to-image prompt (a source image, then the target grid), batch 1.
Writes golden/reference/rope_index_cases.json.
Usage: /work/ref-venv/bin/python scripts/reference/make_rope_index_golden.py [OUT_DIR]
"""
import json
import os
import sys
from types import SimpleNamespace

import torch
import transformers
from transformers.models.glm_image.modeling_glm_image import GlmImageModel

START, END, IMAGE = 16384, 16385, 167855


def rope_index(ids, grids):
    fake = SimpleNamespace(config=SimpleNamespace(image_start_token_id=START, image_end_token_id=END))
    fake.get_vision_position_ids = lambda **kw: GlmImageModel.get_vision_position_ids(fake, **kw)
    pos, _ = GlmImageModel.get_rope_index(fake, input_ids=torch.tensor([ids]), image_grid_thw=torch.tensor(grids))
    return pos[:, 0, :].tolist(), fake._cached_decode_position_ids[0].tolist()


def main(out_dir):
    cases = []
    # T2I: prompt text, "<sop>4 6<eop><sop>2 3<eop>" as plain tokens, then the start marker.
    t2i = [170000 + i for i in range(9)] + [START]
    cases.append({"name": "t2i", "input_ids": t2i, "grids": [[1, 4, 6], [1, 2, 3]]})
    # I2I: start, 2 x 2 image placeholders, end, prompt text, start.
    i2i = [START] + [IMAGE] * 4 + [END] + [170000 + i for i in range(5)] + [START]
    cases.append({"name": "i2i", "input_ids": i2i, "grids": [[1, 2, 2], [1, 4, 6]]})
    for c in cases:
        c["prefill"], c["decode"] = rope_index(c["input_ids"], c["grids"])
    with open(os.path.join(out_dir, "rope_index_cases.json"), "w") as f:
        json.dump({"producer": "scripts/reference/make_rope_index_golden.py", "transformers": transformers.__version__,
                   "image_start_token_id": START, "image_end_token_id": END, "cases": cases}, f)
    print("wrote rope_index_cases.json")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
