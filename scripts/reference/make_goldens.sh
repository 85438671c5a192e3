#!/usr/bin/env bash
# Regenerates golden/reference/ from the upstream reference (pinned in requirements.txt).
# Python is used here only; glmh's tests read the committed files.
#   scripts/reference/make_goldens.sh [VENV]      (default /work/ref-venv; created if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-/work/ref-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r scripts/reference/requirements.txt
fi
py="$venv/bin/python"
"$py" scripts/reference/make_dit_golden.py
"$py" scripts/reference/make_dit_kv_cache_golden.py   # uses dit_tiny
"$py" scripts/reference/make_t5_golden.py
"$py" scripts/reference/make_glyph_golden.py   # uses t5_tiny
"$py" scripts/reference/make_vae_golden.py
"$py" scripts/reference/make_ar_text_golden.py
"$py" scripts/reference/make_config_variants_golden.py  # after the ar and vae goldens it reuses
"$py" scripts/reference/make_ar_generate_golden.py
"$py" scripts/reference/make_rope_index_golden.py
"$py" scripts/reference/make_scheduler_golden.py
"$py" scripts/reference/make_prior_tokens_golden.py
"$py" scripts/reference/make_tokenizer_golden.py
"$py" scripts/reference/make_ar_prompt_golden.py   # uses tokenizer_tiny
"$py" scripts/reference/make_vision_golden.py
"$py" scripts/reference/make_pipeline_golden.py
du -sh golden/reference
