"""Golden for cache-dit's named step-computation masks, produced by the REAL cache-dit releases.

For every release of make_cache_goldens.RELEASES (installed the same way, each alone in its own
--target directory), calls the released `cache_dit.steps_mask(total_steps=T, mask_policy=P)` for
every policy (slow, medium, fast, ultra) and every step count it accepts in 4..100, and records the
mask it returns; a step count it refuses is recorded as refused. Checks (each fails the run): every
release returns the same table (the function is unchanged from 1.2.2 to 1.5.3), the last step is
always computed. The output is one CSV, byte-for-byte reproducible.

Writes OUT (default golden/cache/step_mask_presets.csv).
Usage: /work/ref-venv/bin/python scripts/reference/make_step_mask_goldens.py [--out FILE] [--envs DIR] [--wheel-dir DIR]
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import make_cache_goldens as cache_goldens  # noqa: E402  (release pins and installer)

POLICIES = ("slow", "medium", "fast", "ultra")
STEPS = range(4, 101)
PRODUCER = "scripts/reference/make_step_mask_goldens.py"


def worker(release):
    import cache_dit
    got = cache_goldens.cache_dit_version()
    assert got == release, f"PYTHONPATH gives cache-dit {got}, wanted {release}"
    table = {}
    for steps in STEPS:
        for policy in POLICIES:
            try:
                mask = cache_dit.steps_mask(total_steps=steps, mask_policy=policy)
                assert len(mask) == steps and mask[-1] == 1, (steps, policy, mask)
                table[f"{steps},{policy}"] = "".join(str(int(v)) for v in mask)
            except AssertionError as e:
                if steps >= 8:
                    raise
                table[f"{steps},{policy}"] = "refused"
    print(json.dumps(table))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(cache_goldens.DEFAULT_OUT, "step_mask_presets.csv"))
    ap.add_argument("--envs", default=cache_goldens.DEFAULT_ENVS)
    ap.add_argument("--wheel-dir", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker)

    tables = {}
    for release in cache_goldens.RELEASES:
        target = cache_goldens.ensure_env(release, args.envs, args.wheel_dir)
        env = dict(os.environ, PYTHONPATH=target)
        out = subprocess.run([sys.executable, __file__, "--worker", release], env=env, check=True,
                             capture_output=True, text=True).stdout
        tables[release] = json.loads(out.strip().splitlines()[-1])
    first = next(iter(tables.values()))
    for release, table in tables.items():
        assert table == first, f"cache-dit {release} returns other masks than {next(iter(tables))}"

    releases = " ".join(cache_goldens.RELEASES)
    lines = [
        f"# cache-dit's named step-computation masks, as returned by steps_mask(total_steps, mask_policy) of",
        f"# the real releases {releases} (identical in every one). Written by {PRODUCER}.",
        "# mask: one digit per step, 1 = compute, 0 = cache (static) or decide (dynamic); 'refused': the",
        "# release rejects that step count.",
        "steps,policy,mask",
    ]
    for steps in STEPS:
        for policy in POLICIES:
            lines.append(f"{steps},{policy},{first[f'{steps},{policy}']}")
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {len(lines) - 5} masks from {len(tables)} releases")


if __name__ == "__main__":
    main()
