#!/usr/bin/env bash
# Set up (once) and run the studio. With no arguments: the studio's main job. Otherwise: `python -m studio ARGS`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
if [ $# -eq 0 ]; then
  mkdir -p out
  exec python -m studio render presets/bass.yaml -o out/bass.wav
fi
exec python -m studio "$@"
