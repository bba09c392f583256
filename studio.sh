#!/usr/bin/env bash
# Set up (once) and run the studio. No arguments: serve the studio at http://127.0.0.1:7860 (python app.py).
# Arguments: app options when they start with "--" (./studio.sh --port 8000), else a command line job
# (./studio.sh render bass -o bass.wav, ./studio.sh presets; see python -m studio --help).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
if [ $# -eq 0 ] || [[ "$1" == --* && "$1" != "--help" ]]; then
  exec python app.py "$@"
fi
exec python -m studio "$@"
