"""Golden for glmh's schedule: the GLM-Image pipeline's arithmetic around diffusers'
FlowMatchEulerDiscreteScheduler (configured as scheduler/scheduler_config.json ships), for several
sizes and step counts. The DiT timesteps are the pipeline's truncated linspace (unshifted, then
t - 1); the sigmas are the scheduler's, after set_timesteps(sigmas=..., mu=...).
Writes golden/reference/scheduler_cases.json.
Usage: /work/ref-venv/bin/python scripts/reference/make_scheduler_golden.py [OUT_DIR]
"""
import json
import os
import sys

import diffusers
import numpy as np
from diffusers import FlowMatchEulerDiscreteScheduler

CONFIG = dict(num_train_timesteps=1000, use_dynamic_shifting=True, time_shift_type="linear", base_shift=0.25,
              max_shift=0.75, base_image_seq_len=256, max_image_seq_len=4096, shift=1.0)


def main(out_dir):
    cases = []
    for height, width, steps in [(512, 512, 30), (1024, 1024, 50), (1088, 1920, 28), (2048, 2048, 7)]:
        scheduler = FlowMatchEulerDiscreteScheduler(**CONFIG)
        seq_len = (height // 8) * (width // 8) // 4
        mu = (seq_len / CONFIG["base_image_seq_len"]) ** 0.5 * CONFIG["max_shift"] + CONFIG["base_shift"]
        timesteps = np.linspace(CONFIG["num_train_timesteps"], 1.0, steps + 1)[:-1].astype(np.int64).astype(np.float32)
        scheduler.set_timesteps(sigmas=(timesteps / CONFIG["num_train_timesteps"]).tolist(), mu=mu)
        cases.append({"height": height, "width": width, "steps": steps, "mu": mu,
                      "dit_timesteps": (timesteps - 1).tolist(), "sigmas": scheduler.sigmas.double().tolist()})
    with open(os.path.join(out_dir, "scheduler_cases.json"), "w") as f:
        json.dump({"producer": "scripts/reference/make_scheduler_golden.py", "diffusers": diffusers.__version__,
                   "cases": cases}, f)
    print("wrote scheduler_cases.json")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
