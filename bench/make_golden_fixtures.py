"""Write ``tests/fixtures/torchsynth_golden.npz``: small golden renders of torchsynth 1.0.2's Voice.

The studio's fidelity test (``tests/test_fidelity.py``) compares our synth against these without needing
torchsynth. Anyone can rerun this script; it is deterministic (fixed seed, float64 oracle)::

    bash bench/setup_peer_env.sh                                   # once: builds .peer-venv with torchsynth
    PYTHONPATH=. .venv/bin/python bench/make_golden_fixtures.py    # ~1 minute on 2 CPU cores

For each configuration (48 kHz / 2 s / control 480 Hz, and torchsynth's own 44.1 kHz / 4 s / 441 Hz) it stores:
the θ vectors (random uniform with ``mixer.noise`` = 0, plus named edge vectors), three 2048-sample windows
of the oracle's audio per sound (start, middle, end; float16 to keep the file small) and the oracle's
full-length per-sound peak and RMS (which check levels and per-sound normalization), plus the settings,
the seed and torchsynth's version. Noise is muted because torchsynth draws its noise once per Voice, which
no other implementation can reproduce.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# bench/ helpers and the studio package, whether or not PYTHONPATH is set
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from peer_oracle import (  # noqa: E402 (after the sys.path line above)
    CONFIGS,
    ROOT,
    parameter_table_mismatches,
    pearson_rows,
    render_studio,
    render_with_torchsynth,  # noqa: E402
)

from studio.synth import N_PARAMS, PARAM_INDEX, PARAM_KEYS, default_theta  # noqa: E402

SEED = 20240917
WINDOW = 2048
SOUNDS = {"48k": 128, "44k": 64}  # keeps the file under ~3 MB
OUT = ROOT / "tests" / "fixtures" / "torchsynth_golden.npz"


def _with(base: np.ndarray, **values: float) -> np.ndarray:
    """Copy of θ with some entries set; keys use ``__`` for ``.`` and ``_to_`` for ``->``."""
    theta = base.copy()
    for name, value in values.items():
        theta[PARAM_INDEX[name.replace("__", ".").replace("_to_", "->")]] = value
    return theta


def edge_vectors() -> dict[str, np.ndarray]:
    """Named θ's that random draws rarely reach: extremes of the ranges, quiet and clipping sounds, long tails.

    Every one has ``mixer.noise`` = 0. All-zero vectors are left out on purpose: with all five LFO shape
    weights at 0 torchsynth divides by zero and returns NaN (the studio guards it), so there is nothing to match.
    """
    half = np.full(N_PARAMS, 0.5, np.float32)
    default = default_theta()
    edges = {
        "all_half": half,
        "all_quarter": np.full(N_PARAMS, 0.25, np.float32),
        "all_three_quarters": np.full(N_PARAMS, 0.75, np.float32),
        "all_ones": np.ones(N_PARAMS, np.float32),  # top of every range: midi 127, max mod depths, 20 Hz LFOs
        "studio_default": default,
        # peak well below 1: must come out un-normalized, at its own level
        "quiet": _with(default, mixer__vco_1=0.08, mixer__vco_2=0.04),
        # pitch clipped at MIDI 127 (+24 semitones of tuning), the square-saw's band limit at its highest
        "highest_pitch": _with(default, keyboard__midi_f0=1.0, vco_1__tuning=1.0, vco_2__tuning=1.0,
                               vco_2__shape=1.0),
        # 8 Hz note, 10 ms note-on and a 5 s release: the tail outlives the buffer
        "lowest_pitch_long_release": _with(default, keyboard__midi_f0=0.0, keyboard__duration=0.0,
                                           adsr_1__release=1.0),
        # envelope sweeps VCO 1 up by 96 semitones (clipped at 127) and VCO 2 down
        "pitch_sweep": _with(default, keyboard__midi_f0=0.3, **{"mod_matrix__adsr_1_to_vco_1_pitch": 1.0,
                                                                "mod_matrix__adsr_2_to_vco_2_pitch": 1.0},
                             vco_1__mod_depth=1.0, vco_2__mod_depth=0.0),
        # 20 Hz LFO with a rate envelope, deep vibrato and tremolo on both oscillators
        "fast_lfo": _with(half, lfo_1__frequency=1.0, lfo_1__mod_depth=1.0, mixer__noise=0.0,
                          **{"mod_matrix__lfo_1_to_vco_1_pitch": 1.0, "mod_matrix__lfo_1_to_vco_2_amp": 1.0}),
    }
    for name, theta in edges.items():
        theta[PARAM_INDEX["mixer.noise"]] = 0.0
        assert theta.shape == (N_PARAMS,) and theta.min() >= 0.0 and theta.max() <= 1.0, name
    return edges


def draw_thetas(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(θ ``[count, 78]`` float32, names ``[count]``): the edge vectors first, then uniform random draws."""
    edges = edge_vectors()
    random = rng.random((count - len(edges), N_PARAMS)).astype(np.float32)
    random[:, PARAM_INDEX["mixer.noise"]] = 0.0
    theta = np.concatenate([np.stack(list(edges.values())), random])
    names = np.array(list(edges) + [f"random_{i}" for i in range(len(random))])
    return theta, names


def window_starts(num_samples: int) -> np.ndarray:
    """Start, middle and end windows of ``WINDOW`` samples."""
    return np.array([0, num_samples // 2 - WINDOW // 2, num_samples - WINDOW], np.int64)


def take_windows(audio: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``[N, T]`` → ``[N, len(starts), WINDOW]``."""
    return np.stack([audio[:, s:s + WINDOW] for s in starts], axis=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the torchsynth golden fixtures for tests/test_fidelity.py")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {"seed": np.int64(SEED), "window": np.int64(WINDOW),
                                     "param_keys": np.array(PARAM_KEYS)}
    for label, sample_rate, duration, control_rate in CONFIGS:
        theta, names = draw_thetas(rng, SOUNDS[label])
        audio, meta = render_with_torchsynth(theta, sample_rate, duration, control_rate)
        for problem in parameter_table_mismatches(meta):
            print(f"WARNING parameter table differs from torchsynth: {problem}", file=sys.stderr)
        starts = window_starts(audio.shape[1])
        windows = take_windows(audio, starts)
        arrays |= {
            f"{label}_theta": theta,
            f"{label}_names": names,
            f"{label}_settings": np.array([sample_rate, duration, control_rate], np.float64),
            f"{label}_window_starts": starts,
            f"{label}_windows": windows.astype(np.float16),
            f"{label}_peak": np.abs(audio).max(axis=1).astype(np.float32),
            f"{label}_rms": np.sqrt((audio.astype(np.float64) ** 2).mean(axis=1)).astype(np.float32),
        }
        arrays["torchsynth_version"] = np.array(meta["torchsynth_version"])
        arrays["oracle_dtype"] = np.array(meta["dtype"])

        # A preview of what the test will see (the test itself is the judge).
        ours = take_windows(render_studio(theta, sample_rate, duration, control_rate), starts)
        r = pearson_rows(windows.reshape(len(theta), -1).astype(np.float16).astype(np.float32),
                         ours.reshape(len(theta), -1))
        print(f"{label}: {len(theta)} sounds, window correlation median {np.nanmedian(r):.6f}, "
              f"p5 {np.nanpercentile(r, 5):.6f}, min {np.nanmin(r):.6f} ({names[np.nanargmin(r)]})")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(args.out)  # atomic: a failed run never leaves a half-written fixture
    print(f"wrote {args.out.relative_to(ROOT)} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
