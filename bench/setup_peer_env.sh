#!/usr/bin/env bash
# Builds the *peer* environment: torchsynth 1.0.2 (fidelity oracle) and SynthAX 0.2.2 (speed peer).
# They stay out of the studio's own dependencies: this venv lives in .peer-venv/ (git-ignored) and is used
# only by bench/make_golden_fixtures.py and bench/synth_speed.py. Safe to rerun; it reuses what exists.
# Pins from ../shared/VOICE.md: torchsynth imports pkg_resources (setuptools<81) and an old Lightning path.
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=${PEER_VENV:-.peer-venv}
if [ ! -x "$PEER/bin/python" ]; then
  python3.11 -m venv "$PEER" 2>/dev/null || python3 -m venv "$PEER"
fi
"$PEER/bin/pip" install -q --disable-pip-version-check \
  torch==2.13.0 torchsynth==1.0.2 pytorch-lightning==1.6.5 setuptools==80.9.0 \
  synthax==0.2.2 jax==0.10.2 jaxlib==0.10.2 flax==0.12.8 chex numpy pyyaml
"$PEER/bin/python" - <<'PY'
import torchsynth, synthax, torch, jax
print(f"peer env ready: torchsynth {torchsynth.__version__ if hasattr(torchsynth,'__version__') else '1.0.2'}, "
      f"synthax, torch {torch.__version__}, jax {jax.__version__}")
PY
