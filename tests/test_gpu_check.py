"""``bench/gpu_check.sh`` (issue 18): its CPU mode runs every section with the smallest sizes in CI time and writes
the table file (on a GPU machine the same script measures the full sizes)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_in_cpu_mode_and_writes_its_table(tmp_path):
    out = tmp_path / "gpu_check.md"
    env = dict(os.environ, PYTHON=sys.executable, JAX_PLATFORMS="cpu")
    started = time.monotonic()
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--cpu", "--out", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < 180, elapsed  # CI time (the budget is 110 s of measuring after start-up)
    table = out.read_text()
    for title in ("## Synth: × real time by batch", "## torchsynth on the same device",
                  "## CLAP candidates/s (random weights)", "## Prompt search candidates/s (descriptor scorer)",
                  "## Many users: batched renders"):
        assert title in table, title
    assert "- mode: **cpu**" in table and "JAX 0.10.2 on cpu" in table
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert "× |" in rows["1"] and "sound by sound" in rows["1"]  # the synth measured at batch 1
    assert "**" in rows["fp32"]  # CLAP candidates/s, through the studio's scorer (a tiny random model here)
    assert "**" in rows["16"]  # descriptor search candidates/s
    assert "**" in rows["one per call"] and "**" in rows["batched (≤ 2 a call)"]  # renders/s both ways
    assert "failed" not in table and "Traceback" not in proc.stdout
