"""Goldens for DBCache on GLM-Image's DiT, produced by the REAL cache-dit releases.

cache-dit releases used (wheels from PyPI, each installed alone with --no-deps into its own
--target directory; cache-dit's own runtime deps pyyaml and packaging come from the reference venv,
scripts/reference/requirements.txt pins the rest; no other extra package is needed):

    cache-dit==1.2.2   sha256 f1609511638394a75d7732b5e86c3a7bd93b47907e687a53e16b2b852a4973d7
    cache-dit==1.3.12  sha256 75eeab88bc7166fba87660610b02fd8fd38c319be58dee801598f9e27cabcffe
    cache-dit==1.5.2   sha256 411496be0d44ed8ed7d0449c2693deef6fa46686db8cab51682e5033a36d153f
    cache-dit==1.5.3   sha256 f4564e68b5f6206d25712b06b4d9e0321ef96aadcd00e0ed4645be92d3fd9e75

(RELEASES below; scripts/reference/requirements.txt points here). A missing release is installed by
this script: pip install --no-deps --require-hashes --target ENVS/<version> (from --wheel-dir when
given, else from PyPI). Each worker checks that importlib.metadata reports the wanted version.

What it does:
  1. builds diffusers' GlmImageTransformer2DModel with tiny random weights in the upstream layout
     (10 layers so that the library default Fn 8 leaves middle blocks; 3 heads of 8) and a smooth
     timestep path: the columns of time_embedding's first linear that read the fast sinusoids are
     damped (factor exp(-(f * 100)^2 / 2) for frequency f), so the block residuals drift slowly with t
     as in a trained model (fully random weights make the Fn residual jump by ~0.4 per step);
     saved once with save_pretrained into OUT/transformer/;
  2. per release, in a subprocess with PYTHONPATH=ENVS/<version>: per case, a fresh copy of that
     transformer inside a GlmImagePipeline subclass whose __call__ is only the denoising part of
     diffusers' GlmImagePipeline.__call__ (I2I: one KV "write" transformer call per condition image
     before the loop; then per step the conditional call ("read"), the unconditional call ("skip"),
     every prior token dropped and the negative glyph embeddings, noise = u + g (c - u), one
     FlowMatch Euler step; the DiT gets the UNSHIFTED t - 1, glmh's convention, see
     docs/model.md#unshifted-timesteps), fp32, CPU, one thread;
     cache_dit.enable_cache(pipe, cache_config=..., calibrator_config=...) exactly as cache-dit's
     GLM-Image examples do: the class name starts with "GlmImage", so the release's registered
     glm_image_adapter (Pattern_0, has_separate_cfg=True, GlmImagePatchFunctor) is used and every
     pipeline call gets a fresh cache context;
  3. records the final latents, cache-dit's own cached_steps / cfg_cached_steps and residual diffs
     (cache_dit.summary), DBCacheConfig.strify() and cache_dit.strify(pipe).
Checks (each fails the run): no recorded diff within 2 % of the threshold; something is cached in
every case; cache-dit's cached-step lists equal the calls in which the first middle block did not
run; a second pipeline call repeats the first exactly (fresh context per call); with nothing cached
the cache-dit run equals the plain diffusers transformer bit for bit (T2I and I2I); at least one case
gives different cached steps under 1.5.2 and 1.5.3. The output is byte-for-byte reproducible
(safetensors metadata keys are written sorted).

Writes OUT/transformer/, OUT/<release>/<case>.safetensors, OUT/MANIFEST.json (OUT = golden/cache).
Usage: /work/ref-venv/bin/python scripts/reference/make_cache_goldens.py
           [--out DIR] [--envs DIR] [--wheel-dir DIR] [--releases 1.5.3,...] [--cases a,b]
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

PRODUCER = "scripts/reference/make_cache_goldens.py"
RELEASES = {
    "1.2.2": "f1609511638394a75d7732b5e86c3a7bd93b47907e687a53e16b2b852a4973d7",
    "1.3.12": "75eeab88bc7166fba87660610b02fd8fd38c319be58dee801598f9e27cabcffe",
    "1.5.2": "411496be0d44ed8ed7d0449c2693deef6fa46686db8cab51682e5033a36d153f",
    "1.5.3": "f4564e68b5f6206d25712b06b4d9e0321ef96aadcd00e0ed4645be92d3fd9e75",
}
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "golden", "cache")
DEFAULT_ENVS = "/work/cachedit-envs"

MODEL = dict(patch_size=2, in_channels=16, out_channels=16, num_layers=10, attention_head_dim=8,
             num_attention_heads=3, text_embed_dim=24, time_embed_dim=16, condition_dim=8,
             prior_vq_quantizer_codebook_size=64)
MODEL_SEED = 20261201
WEIGHT_SCALE = 0.2       # every parameter ~ N(0, 0.2^2) (default inits leave some paths at zero)
TIME_DAMP = 100.0        # column of sinusoid frequency f scaled by exp(-(f * TIME_DAMP)^2 / 2)
MARGIN = 0.02            # no recorded diff within 2 % of the threshold
SCHEDULER = dict(num_train_timesteps=1000, use_dynamic_shifting=True, time_shift_type="linear", base_shift=0.25,
                 max_shift=0.75, base_image_seq_len=256, max_image_seq_len=4096)  # GLM-Image's scheduler config
LATENT_HW = (8, 12)      # 64 x 96 pixels, 4 x 6 patches
CONDITION_HW = (8, 8)    # I2I reference: 64 x 64 pixels, 4 x 4 patches
GUIDANCE = 1.5           # GlmImagePipeline's default

# The cases. "cache" holds DBCacheConfig keyword arguments; "mask" = (policy name for the release's own
# cache_dit.steps_mask, steps_computation_policy); "taylorseer" = order of TaylorSeerCalibratorConfig.
CASES = [
    dict(name="fn1_examples", steps=16,
         cache=dict(Fn_compute_blocks=1, Bn_compute_blocks=0, residual_diff_threshold=0.17, max_warmup_steps=3,
                    warmup_interval=1, max_cached_steps=-1, max_continuous_cached_steps=3),
         desc="The examples' --cache settings (Fn 1, Bn 0, MC 3, I 1, M unlimited) with warmup 3 instead of 8 "
              "so that caching happens within 16 steps, and R 0.17 instead of 0.12 (with 0.12 some recorded "
              "diffs of this model lie within 2 % of the threshold); T2I."),
    dict(name="fn2_bn1_taylorseer2", steps=16, taylorseer=2,
         cache=dict(Fn_compute_blocks=2, Bn_compute_blocks=1, residual_diff_threshold=0.27, max_warmup_steps=4,
                    max_continuous_cached_steps=4),
         desc="SGLang's GLM-Image setting: Fn 2, Bn 1, W 4, MC 4, TaylorSeer order 2 (residual cache type); "
              "threshold chosen for this model; T2I."),
    dict(name="library_defaults", steps=16, cache=dict(),
         desc="The library defaults DBCacheConfig() (Fn 8, Bn 0, R 0.08, W 8, I 1, M and MC unlimited; "
              "enable_separate_cfg set to True by the adapter); T2I, 16 steps."),
    dict(name="mask_static", steps=16, mask=("medium", "static"),
         cache=dict(Fn_compute_blocks=1, residual_diff_threshold=0.12, max_warmup_steps=8,
                    max_continuous_cached_steps=3),
         desc="Steps-computation mask from the release's cache_dit.steps_mask(total_steps=16, "
              "mask_policy='medium'), policy static (mask 0 = cache, no limits, no threshold, no diff); "
              "warmup shrinks to the mask's leading 1s; T2I."),
    dict(name="mask_dynamic", steps=16, mask=("medium", "dynamic"),
         cache=dict(Fn_compute_blocks=1, residual_diff_threshold=0.12, max_warmup_steps=8,
                    max_continuous_cached_steps=3),
         desc="Same mask, policy dynamic (mask 0 steps still go through the limits and the threshold); T2I."),
    dict(name="max_cached_steps", steps=16,
         cache=dict(Fn_compute_blocks=1, residual_diff_threshold=0.3, max_warmup_steps=2, max_cached_steps=3),
         desc="max_cached_steps 3 reached (the threshold would allow more); W 2, MC unlimited; T2I."),
    dict(name="warmup_interval2_mc2", steps=16,
         cache=dict(Fn_compute_blocks=1, residual_diff_threshold=0.3, max_warmup_steps=6, warmup_interval=2,
                    max_continuous_cached_steps=2),
         desc="warmup_interval 2 (warmup set {0, 2, 4}: odd warmup steps may be hits) and "
              "max_continuous_cached_steps 2 reached; T2I."),
    dict(name="mc1", steps=16,
         cache=dict(Fn_compute_blocks=1, residual_diff_threshold=0.5, max_warmup_steps=2,
                    max_continuous_cached_steps=1),
         desc="max_continuous_cached_steps 1 with a threshold that always passes: <= 1.5.2 caches in pairs "
              "after the first block, 1.5.3 alternates strictly; T2I."),
    dict(name="mc3_threshold_break", steps=16,
         cache=dict(Fn_compute_blocks=1, residual_diff_threshold=0.2, max_warmup_steps=2,
                    max_continuous_cached_steps=3),
         desc="max_continuous_cached_steps 3 with failed thresholds breaking runs: <= 1.5.2 keeps the stale "
              "streak across a failed threshold and cuts the next run short, 1.5.3 resets it; T2I."),
    dict(name="i2i_fr1", steps=16, i2i=True,
         cache=dict(Fn_compute_blocks=1, Bn_compute_blocks=0, residual_diff_threshold=0.2, max_warmup_steps=3,
                    max_continuous_cached_steps=3, force_refresh_step_hint=1),
         desc="Image to image as the glm_image_edit example: one condition image, one KV-write transformer "
              "call (t = 0, empty glyph sequence) before the loop, force_refresh_step_hint 1 (the refresh "
              "at the second transformer call gives the loop a fresh context); Fn 1, MC 3, W 3, R 0.2 (the "
              "branches' cached steps differ)."),
]


# ----------------------------------------------------------------------------------------------------
# model and inputs (shared by every release)

def build_model(out_dir):
    from diffusers import GlmImageTransformer2DModel
    torch.manual_seed(MODEL_SEED)
    model = GlmImageTransformer2DModel(**MODEL).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * WEIGHT_SCALE)
        # Timesteps(num_channels=time_embed_dim, flip_sin_to_cos=True, shift 0): [cos(t f_i), sin(t f_i)],
        # f_i = 10000^(-i / half). Damp the columns reading fast sinusoids (f * step spacing >> 1).
        linear = model.time_condition_embed.timestep_embedder.linear_1
        half = MODEL["time_embed_dim"] // 2
        f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
        damp = torch.exp(-(f * TIME_DAMP) ** 2 / 2).float()
        linear.weight.mul_(torch.cat([damp, damp]).view(1, -1))
    path = os.path.join(out_dir, "transformer")
    model.save_pretrained(path, safe_serialization=True)
    return path


def t2i_inputs(steps):
    """Inputs of one text-to-image call, identical for every case with the same step count."""
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.pipelines.glm_image.pipeline_glm_image import calculate_shift
    g = torch.Generator().manual_seed(20261202)
    h, w = LATENT_HW
    n = (h // 2) * (w // 2)
    inputs = {
        "latents": torch.randn(1, 16, h, w, generator=g),
        "prior_token_id": torch.randint(0, MODEL["prior_vq_quantizer_codebook_size"], (1, n), generator=g),
        "glyph_embeds": torch.randn(1, 5, MODEL["text_embed_dim"], generator=g) * 0.5,
        "glyph_embeds_uncond": torch.randn(1, 1, MODEL["text_embed_dim"], generator=g) * 0.2,
    }
    inputs["prior_token_drop_cond"] = torch.zeros(1, n, dtype=torch.bool)
    inputs["prior_token_drop_uncond"] = torch.ones(1, n, dtype=torch.bool)
    # as GlmImagePipeline: unshifted integer timesteps, sigmas t / 1000 shifted by mu(seq_len)
    t = np.linspace(1000, 1.0, steps + 1)[:-1].astype(np.int64).astype(np.float32)
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER)
    scheduler.set_timesteps(sigmas=t / 1000.0, mu=calculate_shift(n, 256, 0.25, 0.75))
    inputs["timesteps"] = torch.from_numpy(t)
    inputs["sigmas"] = scheduler.sigmas.float().clone()
    inputs["guidance_scale"] = torch.tensor(GUIDANCE, dtype=torch.float32)
    inputs["target_size"] = torch.tensor([[h * 8.0, w * 8.0]])
    inputs["crop_coords"] = torch.zeros(1, 2)
    return inputs


def i2i_inputs(steps):
    inputs = t2i_inputs(steps)
    g = torch.Generator().manual_seed(20261203)
    h, w = CONDITION_HW
    inputs["condition_latents"] = torch.randn(1, 16, h, w, generator=g)  # stands for (z - mean) / std
    inputs["condition_prior_token_id"] = torch.randint(0, MODEL["prior_vq_quantizer_codebook_size"],
                                                       ((h // 2) * (w // 2),), generator=g)
    inputs["condition_target_size"] = torch.tensor([[h * 8, w * 8]])  # int64, as the pipeline builds it
    inputs["condition_crop_coords"] = torch.zeros(1, 2)
    inputs["condition_timestep"] = torch.zeros(1)
    return inputs


# ----------------------------------------------------------------------------------------------------
# worker: one release (cache_dit importable from PYTHONPATH)

def make_pipeline_class(case_name):
    """A GlmImagePipeline whose __call__ is the denoising part of diffusers' GlmImagePipeline.__call__
    (diffusers 0.42.1), driving the transformer with given inputs. A fresh subclass per case because
    cache-dit wraps the class's __call__ and marks the class as cached."""
    from diffusers import FlowMatchEulerDiscreteScheduler, GlmImagePipeline
    from diffusers.models.transformers.transformer_glm_image import GlmImageKVCache
    from diffusers.pipelines.glm_image.pipeline_glm_image import calculate_shift

    def __call__(self, inputs):
        transformer = self.transformer
        with torch.no_grad():
            kv_caches = GlmImageKVCache(num_layers=transformer.config.num_layers)
            i2i = "condition_latents" in inputs
            if i2i:  # one write call per condition image (here one), then the next sample's slot
                kv_caches.set_mode("write")
                ids = inputs["condition_prior_token_id"]
                transformer(hidden_states=inputs["condition_latents"],
                            encoder_hidden_states=torch.zeros_like(inputs["glyph_embeds"])[:1, :0, ...],
                            prior_token_id=ids, prior_token_drop=torch.full_like(ids, False, dtype=torch.bool),
                            timestep=inputs["condition_timestep"], target_size=inputs["condition_target_size"],
                            crop_coords=inputs["condition_crop_coords"], kv_caches=kv_caches)
                kv_caches.next_sample()
            scheduler = self.scheduler
            t_unshifted = inputs["timesteps"].numpy()
            n = inputs["prior_token_id"].shape[1]  # image_seq_len
            scheduler.set_timesteps(sigmas=t_unshifted / 1000.0, mu=calculate_shift(n, 256, 0.25, 0.75))
            assert torch.equal(scheduler.sigmas.float(), inputs["sigmas"])
            latents = inputs["latents"].clone()
            g = float(inputs["guidance_scale"])
            for i, t in enumerate(scheduler.timesteps):
                timestep = (torch.tensor([float(t_unshifted[i])]) - 1).expand(latents.shape[0])
                if i2i:
                    kv_caches.set_mode("read")
                cond = transformer(hidden_states=latents, encoder_hidden_states=inputs["glyph_embeds"],
                                   prior_token_id=inputs["prior_token_id"],
                                   prior_token_drop=inputs["prior_token_drop_cond"], timestep=timestep,
                                   target_size=inputs["target_size"], crop_coords=inputs["crop_coords"],
                                   return_dict=False, kv_caches=kv_caches)[0].float()
                if i2i:
                    kv_caches.set_mode("skip")
                uncond = transformer(hidden_states=latents, encoder_hidden_states=inputs["glyph_embeds_uncond"],
                                     prior_token_id=inputs["prior_token_id"],
                                     prior_token_drop=inputs["prior_token_drop_uncond"], timestep=timestep,
                                     target_size=inputs["target_size"], crop_coords=inputs["crop_coords"],
                                     return_dict=False, kv_caches=kv_caches)[0].float()
                latents = scheduler.step(uncond + g * (cond - uncond), t, latents, return_dict=False)[0]
            kv_caches.clear()
        return latents

    cls = type(f"GlmImagePipelineDenoise_{case_name}", (GlmImagePipeline,), {"__call__": __call__})
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER)
    return cls, scheduler


def run_case(case, release, out_dir):
    import cache_dit
    import diffusers
    from diffusers import GlmImageTransformer2DModel

    steps = case["steps"]
    inputs = i2i_inputs(steps) if case.get("i2i") else t2i_inputs(steps)
    transformer = GlmImageTransformer2DModel.from_pretrained(os.path.join(out_dir, "transformer")).eval()
    cls, scheduler = make_pipeline_class(case["name"])
    pipe = cls(tokenizer=None, processor=None, text_encoder=None, vision_language_encoder=None, vae=None,
               transformer=transformer, scheduler=scheduler)

    kwargs = dict(case["cache"])
    mask = None
    if "mask" in case:
        preset, policy = case["mask"]
        mask = cache_dit.steps_mask(total_steps=steps, mask_policy=preset)
        kwargs.update(steps_computation_mask=mask, steps_computation_policy=policy)
    cache_config = cache_dit.DBCacheConfig(**kwargs)
    calibrator = (cache_dit.TaylorSeerCalibratorConfig(taylorseer_order=case["taylorseer"])
                  if "taylorseer" in case else None)
    config_before = cache_config.strify()
    middle_block = transformer.transformer_blocks[cache_config.Fn_compute_blocks]  # before cache-dit wraps the list
    cache_dit.enable_cache(pipe, cache_config=cache_config, calibrator_config=calibrator)
    config_str = cache_config.strify()  # enable_separate_cfg now set by the adapter: "_CFG1"

    # independent observation: does the first middle block run in each transformer call?
    ran = []
    hook = middle_block.register_forward_pre_hook(lambda m, a, k: ran.__setitem__(-1, True), with_kwargs=True)
    outer = transformer.forward

    def counting_forward(*a, **k):
        ran.append(False)
        return outer(*a, **k)
    transformer.forward = counting_forward

    def call():
        ran.clear()
        latents = pipe(inputs)
        st = cache_dit.summary(pipe, logging=False)[-1]
        h = [sorted(int(s) for s in st.cached_steps), sorted(int(s) for s in st.cfg_cached_steps)]
        d = [{int(k): float(v) for k, v in st.residual_diffs.items()},
             {int(k): float(v) for k, v in st.cfg_residual_diffs.items()}]
        return latents, h, d, cache_dit.strify(pipe)

    latents_out, hits, diffs, summary_str = call()
    # a second pipeline call must start from a fresh cache context and repeat the first exactly
    again = call()
    assert torch.equal(again[0], latents_out) and again[1:] == (hits, diffs, summary_str), \
        f"{release} {case['name']}: a second pipeline call differs from the first"
    transformer.forward = outer
    hook.remove()
    loop_ran = ran[1:] if case.get("i2i") else ran
    assert len(loop_ran) == 2 * steps, (len(ran), steps)
    observed = [[i for i in range(steps) if not loop_ran[2 * i]], [i for i in range(steps) if not loop_ran[2 * i + 1]]]
    assert observed == hits, f"{case['name']}: cache-dit's lists {hits} != middle blocks skipped at {observed}"
    if case.get("i2i"):
        assert ran[0], "the KV-write call must compute every block"

    cache_hits = torch.zeros(2, steps, dtype=torch.int64)
    residual_diffs = torch.full((2, steps), float("nan"), dtype=torch.float64)
    thr = float(cache_config.residual_diff_threshold)
    near = []
    for b in range(2):
        for s in hits[b]:
            cache_hits[b, s] = 1
        for s, d in diffs[b].items():
            residual_diffs[b, s] = d
            if d > 0 and abs(d - thr) < MARGIN * thr:
                near.append((["cond", "uncond"][b], s, d))
    assert not near, f"{release} {case['name']}: diffs within {MARGIN:.0%} of R {thr}: {near}"
    assert hits[0] or hits[1], f"{release} {case['name']}: nothing cached"

    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors.update(latents_out=latents_out.float().contiguous(), cache_hits=cache_hits, residual_diffs=residual_diffs)
    version = cache_dit_version()
    meta = {
        "producer": PRODUCER, "cache_dit": version, "cache_dit_module_version": str(cache_dit.__version__),
        "cache_dit_wheel_sha256": RELEASES[release], "diffusers": diffusers.__version__, "torch": torch.__version__,
        "case": case["name"], "description": case["desc"], "config": config_str, "config_before_enable": config_before,
        "summary": summary_str,
        "calibrator": calibrator.strify() if calibrator is not None else "",
        "cache_kwargs": json.dumps(kwargs), "steps_computation_mask": json.dumps(mask),
        "hits": json.dumps({"cond": hits[0], "uncond": hits[1]}),
        "rows": "row 0 = conditional call (cache-dit's non-CFG branch: cached_steps, residual_diffs); "
                "row 1 = unconditional call (CFG branch: cfg_cached_steps, cfg_residual_diffs)",
        "dit_timestep": "the DiT is called with timesteps[i] - 1 (unshifted); Euler step with sigmas",
        "model": "golden/cache/transformer", "threads": str(torch.get_num_threads()),
    }
    os.makedirs(os.path.join(out_dir, release), exist_ok=True)
    path = os.path.join(out_dir, release, f"{case['name']}.safetensors")
    save_deterministic(tensors, path, meta)
    return dict(release=release, module_version=meta["cache_dit_module_version"], case=case["name"],
                description=case["desc"], config=config_str,
                summary=summary_str, calibrator=meta["calibrator"], steps=steps,
                steps_computation_mask=mask, hits={"cond": hits[0], "uncond": hits[1]},
                residual_diffs={"cond": {str(k): v for k, v in sorted(diffs[0].items())},
                                "uncond": {str(k): v for k, v in sorted(diffs[1].items())}},
                file=os.path.relpath(path, out_dir))


def save_deterministic(tensors, path, metadata):
    """safetensors.torch.save, with the metadata keys sorted: safetensors keeps them in a hash map, so
    their order (and the file's bytes) would change from run to run."""
    import struct
    from safetensors.torch import save
    blob = save(tensors, metadata=metadata)
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    assert len(text) == n
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n) + text + blob[8 + n:])


def cache_dit_version():
    from importlib.metadata import version
    return version("cache-dit")


def check_driver(out_dir):
    """With nothing cached (warmup over every step) the cache-dit run must equal the plain diffusers
    transformer (no cache-dit patch) driven by the same loop, bit for bit, T2I and I2I."""
    import cache_dit
    from diffusers import GlmImageTransformer2DModel
    for i2i in (False, True):
        inputs = i2i_inputs(8) if i2i else t2i_inputs(8)
        latents = []
        for cached in (False, True):
            cls, scheduler = make_pipeline_class(f"check{int(i2i)}{int(cached)}")
            transformer = GlmImageTransformer2DModel.from_pretrained(os.path.join(out_dir, "transformer")).eval()
            pipe = cls(tokenizer=None, processor=None, text_encoder=None, vision_language_encoder=None, vae=None,
                       transformer=transformer, scheduler=scheduler)
            if cached:
                cache_dit.enable_cache(pipe, cache_config=cache_dit.DBCacheConfig(
                    Fn_compute_blocks=1, max_warmup_steps=8, force_refresh_step_hint=1 if i2i else None))
            latents.append(pipe(inputs))
        assert torch.equal(latents[0], latents[1]), f"cache-dit with nothing cached != plain diffusers (i2i={i2i})"


def worker(release, out_dir, case_names, result_path):
    torch.set_num_threads(1)
    import cache_dit
    got = cache_dit_version()
    assert got == release, f"PYTHONPATH gives cache-dit {got} ({cache_dit.__file__}), wanted {release}"
    check_driver(out_dir)
    results = []
    for case in CASES:
        if case_names and case["name"] not in case_names:
            continue
        r = run_case(case, release, out_dir)
        print(f"  {release:7s} {r['case']:22s} {r['config']:60s} cond {r['hits']['cond']} uncond {r['hits']['uncond']}",
              flush=True)
        results.append(r)
    with open(result_path, "w") as f:
        json.dump(results, f)


# ----------------------------------------------------------------------------------------------------
# driver

def ensure_env(release, envs, wheel_dir):
    target = os.path.join(envs, release)
    if os.path.isdir(os.path.join(target, f"cache_dit-{release}.dist-info")):
        return target
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write(f"cache-dit=={release} --hash=sha256:{RELEASES[release]}\n")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--require-hashes", "--target", target,
           "-r", req.name]
    if wheel_dir:
        sub = os.path.join(wheel_dir, release)
        cmd += ["--no-index", "--find-links", sub if os.path.isdir(sub) else wheel_dir]
    print("installing:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    os.unlink(req.name)
    return target


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--envs", default=DEFAULT_ENVS, help="one --target directory per release (created if missing)")
    ap.add_argument("--wheel-dir", default=None, help="install from local wheels (DIR/<version>/*.whl or DIR/*.whl)")
    ap.add_argument("--releases", default=",".join(RELEASES))
    ap.add_argument("--cases", default="")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    out_dir = os.path.abspath(args.out)
    case_names = [c for c in args.cases.split(",") if c]
    if args.worker:
        return worker(args.worker, out_dir, case_names, args.result)

    import diffusers
    releases = [r for r in args.releases.split(",") if r]
    for r in releases:
        assert r in RELEASES, f"unknown release {r}; known: {list(RELEASES)}"
    os.makedirs(out_dir, exist_ok=True)
    build_model(out_dir)
    results = []
    for r in releases:
        if not case_names:  # a full run of a release replaces its folder (no stale cases)
            shutil.rmtree(os.path.join(out_dir, r), ignore_errors=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = ensure_env(r, os.path.abspath(args.envs), args.wheel_dir)
        env.update(OMP_NUM_THREADS="1", CACHE_DIT_LOG_LEVEL="error", DIFFUSERS_VERBOSITY="error")
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            result = tmp.name
        subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", r, "--out", out_dir, "--result", result]
                       + (["--cases", args.cases] if args.cases else []), env=env, check=True, cwd=ROOT)
        with open(result) as f:
            results += json.load(f)
        os.unlink(result)

    by = {(x["release"], x["case"]): x for x in results}
    differ = {c: {r: by[(r, c)]["hits"] for r in ("1.5.2", "1.5.3")} for (r, c) in sorted(by)
              if r == "1.5.3" and ("1.5.2", c) in by and by[("1.5.2", c)]["hits"] != by[("1.5.3", c)]["hits"]}
    if "1.5.2" in releases and "1.5.3" in releases and not case_names:
        assert differ, "no case gives different cached steps under 1.5.2 and 1.5.3"
    manifest = dict(
        producer=PRODUCER, diffusers=diffusers.__version__, torch=torch.__version__, model="transformer",
        model_config=MODEL, model_seed=MODEL_SEED, time_damp=TIME_DAMP, guidance_scale=GUIDANCE, margin=MARGIN,
        releases={r: dict(wheel_sha256=RELEASES[r],
                          module_version=next(x["module_version"] for x in results if x["release"] == r))
                  for r in releases},
        differ_1_5_2_vs_1_5_3=differ,
        cases=[{k: x[k] for k in ("release", "case", "file", "config", "summary", "calibrator", "steps",
                                  "steps_computation_mask", "hits", "description")} for x in results],
    )
    path = os.path.join(out_dir, "MANIFEST.json")
    if case_names or releases != list(RELEASES):
        path = os.path.join(out_dir, "MANIFEST.partial.json")
    elif os.path.exists(os.path.join(out_dir, "MANIFEST.partial.json")):
        os.unlink(os.path.join(out_dir, "MANIFEST.partial.json"))
    text = json.dumps(manifest, indent=1)
    text = re.sub(r"\[[\d,\s]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)  # int lists on one line
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"wrote {path}; 1.5.2 vs 1.5.3 differ in: {sorted(differ)}")


if __name__ == "__main__":
    main()
