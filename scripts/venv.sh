#!/usr/bin/env bash
# Create or reuse the studio's virtual environment in .venv and bring it in line with the pinned
# requirements. Sourced by studio.sh and test.sh; reinstalls only when a requirements file changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STUDIO_VENV:-$ROOT/.venv}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "studio: creating virtual environment in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
stamp="$VENV/.studio-requirements"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "studio: installing pinned requirements (first run takes a few minutes)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH" PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export GRADIO_ANALYTICS_ENABLED=False
