#!/usr/bin/env bash
# Check the package as a user installs it: a clean virtual environment, `pip install .` (dependency ranges from
# pyproject.toml, resolved by pip, no lock), then `synth-studio render bass -o bass.wav` from a folder outside the
# checkout. Needs the package registry; takes a few minutes. Usage: bash scripts/check_install.sh [VENV_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$(mktemp -d)/venv}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$ROOT"
WORK="$(mktemp -d)"
cd "$WORK"
"$VENV/bin/synth-studio" render bass -o bass.wav
"$VENV/bin/python" -c "import soundfile; a, sr = soundfile.read('bass.wav'); assert sr == 48000 and len(a) == 96000"
echo "check_install: synth-studio rendered $WORK/bass.wav from a clean environment ($VENV)"
