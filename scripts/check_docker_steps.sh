#!/usr/bin/env bash
# Docker cannot run on the development machines, so this replays the Dockerfile's steps in a clean virtual
# environment: copy the build context (minus .dockerignore), install requirements.txt into a fresh venv, start
# `python app.py --host 0.0.0.0 --port PORT` with the image's environment, and render a preset through the API.
# Differences from a real build: the pip index is this machine's, and the CUDA build argument is not exercised.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
PORT="${PORT:-7899}"
WORK="$(mktemp -d -t synth-studio-docker-XXXXXX)"
trap 'kill "${APP_PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== build context (without .dockerignore entries) -> $WORK/app"
mkdir -p "$WORK/app"
excludes=()
while IFS= read -r line; do
  line="${line%%#*}"; line="$(echo "$line" | xargs)"
  [ -n "$line" ] && excludes+=("--exclude=$line")
done < "$ROOT/.dockerignore"
tar -C "$ROOT" "${excludes[@]}" -cf - . | tar -C "$WORK/app" -xf -

echo "== RUN pip install -r requirements.txt (clean venv)"
"$PY" -m venv "$WORK/venv"
start=$(date +%s)
"$WORK/venv/bin/pip" install -q -r "$WORK/app/requirements.txt"
echo "   installed in $(( $(date +%s) - start )) s"

echo "== CMD python app.py --host 0.0.0.0 --port $PORT"
cd "$WORK/app"
env -i PATH="$WORK/venv/bin:/usr/bin:/bin" HOME="$WORK" PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False \
  HF_HUB_OFFLINE=1 XLA_PYTHON_CLIENT_PREALLOCATE=false SYNTH_STUDIO_PUBLIC=1 SYNTH_STUDIO_LIBRARY="$WORK/library" \
  "$WORK/venv/bin/python" app.py --host 0.0.0.0 --port "$PORT" > "$WORK/app.log" 2>&1 &
APP_PID=$!
start=$(date +%s.%N)
until curl -fs "http://127.0.0.1:$PORT/" > /dev/null; do
  if ! kill -0 "$APP_PID" 2>/dev/null; then cat "$WORK/app.log"; echo "app.py exited"; exit 1; fi
  sleep 0.2
done
echo "   serving after $(echo "$(date +%s.%N) - $start" | bc) s"
"$WORK/venv/bin/python" - "$PORT" <<'PY'
import sys
import soundfile
from gradio_client import Client
wav = Client(f"http://127.0.0.1:{sys.argv[1]}", verbose=False).predict("bass", api_name="/render_preset")
audio, sr = soundfile.read(wav, dtype="int16")
assert sr == 48000 and audio.shape == (96000,) and abs(audio).max() > 1000, (sr, audio.shape)
print(f"   /render_preset answered: {audio.shape[0]} samples at {sr} Hz")
PY
grep -q "public: per-browser" "$WORK/app.log" && echo "   public mode on, library in \$SYNTH_STUDIO_LIBRARY"
echo "OK: the Dockerfile's install and start steps work in a clean environment"
