#!/usr/bin/env bash
# Put the studio's Python packages that bench/gpu_check.sh imports but a bare CUDA machine lacks (it has JAX with
# CUDA, torch, transformers and flax) into .gpu-deps/ (git-ignored; carry it with the working tree, ~15 MB), at the
# versions requirements.txt pins. --torchsynth adds torchsynth and what it imports (pytorch-lightning 1.6.5, …).
#   bash bench/gpu_deps.sh [--torchsynth]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
pin() { sed -n "s/^$1==/$1==/p" requirements.txt | head -1; }
PKGS=("$(pin evosax)" "$(pin dotmap)" "$(pin pillow)")
if [ "${1:-}" = --torchsynth ]; then
  PKGS+=(torchsynth==1.0.2 pytorch-lightning==1.6.5 torchmetrics==0.11.4 pyDeprecate==0.3.2 setuptools==80.9.0)
fi
rm -rf .gpu-deps
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target .gpu-deps "${PKGS[@]}"
du -sh .gpu-deps
