"""Project-side access to the torchsynth oracle: runs ``bench/peer/torchsynth_render.py`` in the peer venv.

torchsynth is never imported here (nor anywhere in the studio): it lives in ``.peer-venv`` (built by
``bench/setup_peer_env.sh``) and is reached through a subprocess, with θ and audio passed as ``.npy`` files.
Used by ``bench/make_golden_fixtures.py`` and ``bench/synth_fidelity.py`` (both run in the project venv).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORACLE_SCRIPT = ROOT / "bench" / "peer" / "torchsynth_render.py"
#: (label, sample rate, duration s, control rate Hz): CTAG's/the studio's default, and torchsynth's own default.
CONFIGS = (("48k", 48_000, 2.0, 480.0), ("44k", 44_100, 4.0, 441.0))


def peer_python() -> Path:
    """The peer venv's interpreter; a clear error when the venv has not been built."""
    peer = Path(os.environ.get("PEER_VENV", ROOT / ".peer-venv"))
    exe = peer / "bin" / "python"
    if not exe.exists():
        raise SystemExit(f"the torchsynth peer environment is missing ({exe} not found).\n"
                         f"Build it once with:  bash bench/setup_peer_env.sh")
    return exe


def render_with_torchsynth(theta: np.ndarray, sample_rate: int, duration: float, control_rate: float,
                           chunk: int = 32, threads: int = 1, float32: bool = False) -> tuple[np.ndarray, dict]:
    """Render θ ``[N, 78]`` (canonical order, ``mixer.noise`` = 0) with torchsynth 1.0.2 in float64
    (or float32 with ``float32=True``, only to show how much the oracle itself moves with precision).

    Returns (audio ``[N, T]`` float32, metadata dict with torchsynth's parameter table and settings).
    """
    from studio.synth import PARAM_KEYS

    theta = np.asarray(theta, np.float32)
    with tempfile.TemporaryDirectory(prefix="torchsynth-oracle-") as tmp:
        tmp = Path(tmp)
        np.save(tmp / "theta.npy", theta)
        (tmp / "keys.json").write_text(json.dumps(list(PARAM_KEYS)))
        out = tmp / "audio.npy"
        cmd = [str(peer_python()), str(ORACLE_SCRIPT), "--theta", str(tmp / "theta.npy"),
               "--keys", str(tmp / "keys.json"), "--out", str(out), "--sample-rate", str(sample_rate),
               "--duration", repr(float(duration)), "--control-rate", repr(float(control_rate)),
               "--chunk", str(chunk), "--threads", str(threads)] + (["--float32"] if float32 else [])
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"the torchsynth oracle failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
        # Pass on the oracle's own summary line, not torchsynth's import-time deprecation warnings.
        for line in result.stderr.splitlines():
            if line.startswith("torchsynth:"):
                print(line, file=sys.stderr)
        audio = np.load(out)
        meta = json.loads(Path(str(out) + ".json").read_text())
    return audio, meta


def parameter_table_mismatches(meta: dict) -> list[str]:
    """Differences between torchsynth's parameter table (ranges, curves) and the studio's ``PARAMS``."""
    from studio.synth import PARAMS

    problems = []
    for spec, theirs in zip(PARAMS, meta["parameters"]):
        ours = {"min": spec.lo, "max": spec.hi, "curve": spec.curve, "symmetric": spec.symmetric}
        for field, value in ours.items():
            other = theirs[field]
            same = value == other if field == "symmetric" else abs(value - other) <= 1e-6 * max(1.0, abs(value))
            if not same:
                problems.append(f"{spec.key}.{field}: studio {value}, torchsynth {other}")
    return problems


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of ``a``, ``b`` ``[N, T]`` (float64); NaN where a row is constant."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)


def render_studio(theta: np.ndarray, sample_rate: int, duration: float, control_rate: float,
                  batch: int = 32) -> np.ndarray:
    """Render θ ``[N, 78]`` with the studio's synth in batches (keeps memory modest): ``[N, T]`` float32."""
    from studio.synth import RenderSettings, render

    settings = RenderSettings(sample_rate=sample_rate, duration=duration, control_rate=control_rate)
    parts = []
    for lo in range(0, len(theta), batch):
        rows = theta[lo:lo + batch]
        if len(rows) < batch:  # keep one compiled shape
            rows = np.concatenate([rows, np.repeat(rows[:1], batch - len(rows), axis=0)])
        parts.append(np.asarray(render(rows, settings))[:min(batch, len(theta) - lo)])
    return np.concatenate(parts)
