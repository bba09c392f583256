"""Render normalized Voice parameter vectors with torchsynth 1.0.2: the fidelity oracle.

Runs ONLY in the peer environment (``.peer-venv/bin/python``, built by ``bench/setup_peer_env.sh``);
torchsynth is never a dependency of the studio. The project-side scripts (``bench/make_golden_fixtures.py``,
``bench/synth_fidelity.py``) call this file through a subprocess.

Input: ``--theta`` an ``.npy`` of θ ``[N, 78]`` in [0, 1], in the studio's canonical order, and ``--keys`` a JSON
list of the 78 studio keys (``module.name``) in that order. The script checks that torchsynth's
``named_parameters()`` yields exactly these keys in exactly this order before rendering anything, so a column
can never land on the wrong knob.

Output: ``--out`` an ``.npy`` of float32 audio ``[N, T]`` and, next to it, ``<out>.json`` with the oracle's
parameter table (range, curve, symmetric per key) and the settings, so the caller can also check our table.

Rendering is in float64 (``torch.set_default_dtype`` before the Voice is built) in batches of ``--chunk`` sounds;
the last batch is padded with copies of its first row and the padding is dropped. torchsynth's noise is drawn
once when the Voice is built and is not reproducible by the studio, so callers mute it (``mixer.noise`` = 0);
this script refuses vectors with audible noise unless ``--allow-noise`` is given.

Example::

    .peer-venv/bin/python bench/peer/torchsynth_render.py --theta theta.npy --keys keys.json --out audio.npy \\
        --sample-rate 48000 --duration 2.0 --control-rate 480
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--theta", required=True, help=".npy of normalized parameters [N, 78]")
    p.add_argument("--keys", required=True, help="JSON list of the expected 78 parameter keys, in order")
    p.add_argument("--out", required=True, help=".npy to write float32 audio [N, T] to")
    p.add_argument("--sample-rate", type=int, default=48_000)
    p.add_argument("--duration", type=float, default=2.0, help="buffer length in seconds")
    p.add_argument("--control-rate", type=float, default=480.0)
    p.add_argument("--chunk", type=int, default=32, help="sounds per torchsynth batch")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machines are shared)")
    p.add_argument("--float32", action="store_true", help="render in float32 instead of float64")
    p.add_argument("--allow-noise", action="store_true", help="accept vectors whose mixer.noise is not 0")
    return p.parse_args(argv)


def torchsynth_keys(voice) -> list[str]:
    """torchsynth's parameter names in registration order, as studio keys (``module.name``)."""
    keys = []
    for full_name, _ in voice.named_parameters():
        module, middle, name = full_name.split(".")
        assert middle == "torchparameters", full_name
        keys.append(f"{module}.{name}")
    return keys


def parameter_table(voice) -> list[dict]:
    """Each parameter's range and curve as torchsynth declares them (after its default nebula is loaded)."""
    table = []
    for full_name, param in voice.named_parameters():
        module, _, name = full_name.split(".")
        r = param.parameter_range
        table.append({"key": f"{module}.{name}", "min": float(r.minimum), "max": float(r.maximum),
                      "curve": float(r.curve), "symmetric": bool(r.symmetric)})
    return table


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from torchsynth.config import SynthConfig
    from torchsynth.synth import Voice

    torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.float32 else torch.float64
    # Must precede building the Voice: its buffers (ramps, ranges) take the default dtype.
    torch.set_default_dtype(dtype)

    theta = np.load(args.theta)
    expected = json.load(open(args.keys))
    if theta.ndim != 2 or theta.shape[1] != len(expected):
        sys.exit(f"theta must be [N, {len(expected)}], got {theta.shape}")
    if not np.all(np.isfinite(theta)) or theta.min() < 0.0 or theta.max() > 1.0:
        sys.exit("theta must be finite and inside [0, 1] (torchsynth asserts it)")

    config = SynthConfig(batch_size=args.chunk, reproducible=False, sample_rate=args.sample_rate,
                         buffer_size_seconds=args.duration, control_rate=args.control_rate)
    voice = Voice(config)
    voice.eval()

    keys = torchsynth_keys(voice)
    if keys != expected:
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(keys, expected)) if a != b]
        sys.exit(f"torchsynth parameter order differs from the studio's: {len(keys)} vs {len(expected)} keys, "
                 f"first differences (index, torchsynth, studio): {diff[:5]}")
    noise_col = keys.index("mixer.noise")
    if not args.allow_noise and np.any(theta[:, noise_col] != 0.0):
        sys.exit("mixer.noise must be 0 in every vector (torchsynth's noise cannot be reproduced); "
                 "pass --allow-noise to render anyway")

    n = theta.shape[0]
    num_samples = int(config.buffer_size)
    out = np.empty((n, num_samples), np.float32)
    start = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, n, args.chunk):
            rows = theta[lo:lo + args.chunk].astype(np.float64)
            real = rows.shape[0]
            if real < args.chunk:  # fixed batch size: pad with copies, drop them afterwards
                rows = np.concatenate([rows, np.repeat(rows[:1], args.chunk - real, axis=0)])
            values = torch.from_numpy(rows).to(dtype)
            for i, key in enumerate(keys):
                module, name = key.split(".")
                getattr(voice, module).set_parameter_0to1(name, values[:, i].contiguous())
            audio = voice.output().detach().cpu().numpy()
            if audio.shape != (args.chunk, num_samples):
                sys.exit(f"unexpected torchsynth output shape {audio.shape}")
            out[lo:lo + real] = audio[:real]
    elapsed = time.perf_counter() - start

    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        sys.exit(f"torchsynth produced non-finite audio for sounds {np.flatnonzero(bad)[:10].tolist()} "
                 "(all-zero LFO shape weights divide by zero in torchsynth)")
    np.save(args.out, out)
    meta = {
        "torchsynth_version": _version("torchsynth"), "torch_version": torch.__version__,
        "dtype": str(dtype).replace("torch.", ""), "sample_rate": args.sample_rate, "duration": args.duration,
        "control_rate": args.control_rate, "num_samples": num_samples,
        "num_control": int(config.control_buffer_size), "chunk": args.chunk, "render_seconds": elapsed,
        "parameters": parameter_table(voice),
    }
    with open(args.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    print(f"torchsynth: rendered {n} sounds × {num_samples} samples ({meta['dtype']}) in {elapsed:.1f} s",
          file=sys.stderr)
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    sys.exit(main())
