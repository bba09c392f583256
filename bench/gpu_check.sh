#!/usr/bin/env bash
# The GPU check of issue 18, as one prepared script: synth × real time at batch 1 … 65,536 with peak GPU memory,
# torchsynth on the same GPU (where it imports), CLAP candidates/s with random weights (fp32, bf16), prompt-search
# candidates/s and the batched multi-user render throughput, written as a Markdown table (bench/gpu_check.py).
#
#   bash bench/gpu_check.sh                      # auto: GPU mode when JAX sees an accelerator, else CPU mode
#   bash bench/gpu_check.sh --cpu                # the smallest sizes on the CPU (CI time: < 2 minutes)
#   bash bench/gpu_check.sh --gpu --out FILE     # full sizes (~6 minutes on an H100/H200-class GPU; default file:
#                                                # artifacts/gpu_check.md)
#
# Made for a GPU machine with no network that has JAX (CUDA), torch, transformers and flax installed: the studio's
# other Python dependencies that the check imports (evosax, dotmap, Pillow; optionally torchsynth) come with the
# working tree in .gpu-deps/, made here beforehand with `bash bench/gpu_deps.sh` (pip install --target) and put on
# PYTHONPATH below; carry .gpu-deps with the tree. $PYTHON picks the interpreter (default: .venv/bin/python when it
# exists, else python3). Nothing is downloaded: HF_HUB_OFFLINE=1, and CLAP runs with random weights.
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=auto
OUT=artifacts/gpu_check.md
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) MODE=cpu ;;
    --gpu) MODE=gpu ;;
    --out) OUT="$2"; shift ;;
    --budget-s|--sections) EXTRA+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -d .gpu-deps ] && export PYTHONPATH="$PYTHONPATH:$PWD/.gpu-deps"   # after the machine's own packages
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
export XLA_PYTHON_CLIENT_PREALLOCATE=false          # JAX and torch share the device (studio.hosting)
export XLA_PYTHON_CLIENT_MEM_FRACTION="${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.9}"   # one of them at a time here
export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}"

if [ "$MODE" = auto ]; then
  backend=$("$PYTHON" -c 'import jax; print(jax.default_backend())' 2>/dev/null || echo none)
  if [ "$backend" = none ]; then echo "JAX does not import with $PYTHON" >&2; exit 1; fi
  if [ "$backend" = cpu ]; then MODE=cpu; else MODE=gpu; fi
fi
[ "$MODE" = cpu ] && export JAX_PLATFORMS=cpu
echo "gpu_check: mode $MODE, python $PYTHON, table -> $OUT"
exec "$PYTHON" bench/gpu_check.py --mode "$MODE" --out "$OUT" "${EXTRA[@]}"
