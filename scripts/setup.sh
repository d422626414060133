#!/usr/bin/env bash
# Create .venv/ in the repository root and install WithYou with every extra (train, serve, batch, spark, dev).
# Idempotent: re-running only installs what changed. Works offline from package registries alone.
#
# torch is pinned to 2.13.0, CPU build. On machines whose pip has no CPU wheel at hand, set
#   WITHYOU_TORCH_INDEX=https://download.pytorch.org/whl/cpu
# to avoid pulling a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python_bin="$candidate"; break
    fi
  done
fi
[ -n "$python_bin" ] || { echo "setup: Python >= 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade "pip>=24"
if ! .venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
  echo "setup: installing torch 2.13.0 (CPU)"
  if [ -n "${WITHYOU_TORCH_INDEX:-}" ]; then
    "${pip[@]}" torch==2.13.0 --index-url "$WITHYOU_TORCH_INDEX"
  else
    "${pip[@]}" torch==2.13.0
  fi
fi
echo "setup: installing withyou[train,serve,batch,spark,dev]"
"${pip[@]}" -e ".[train,serve,batch,spark,dev]"
echo "setup: ready — CLI at .venv/bin/withyou"
