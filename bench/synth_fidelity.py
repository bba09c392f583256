"""Full fidelity check of the studio's Voice against torchsynth 1.0.2 (float64), full-length audio.

For each configuration (48 kHz / 2 s / control 480 Hz, and torchsynth's 44.1 kHz / 4 s / 441 Hz) it draws
``--count`` (256) uniform random θ with ``mixer.noise`` = 0 (torchsynth's noise cannot be reproduced), renders
them with torchsynth in the peer venv and with the studio's ``render``, and prints a table of per-sound
Pearson correlations (median, 5th percentile, min, fraction ≥ 0.999) and level errors, then the five worst
sounds per configuration with a short diagnosis: the correlation in four time quarters (a fall over time
means phase drift; a bad first quarter means envelopes/onsets), the largest pitch-modulation reaches, whether
the pitch is clipped at MIDI 127, LFO settings and envelope exponents.

The bar (issue requirement): median ≥ 0.999 and p5 ≥ 0.99 in every configuration. Exit status 1 if missed.

    bash bench/setup_peer_env.sh                               # once
    PYTHONPATH=. .venv/bin/python bench/synth_fidelity.py      # ~1–2 minutes on 2 CPU cores
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from peer_oracle import (  # noqa: E402 (after the sys.path line above)
    CONFIGS,
    parameter_table_mismatches,
    pearson_rows,
    render_studio,
    render_with_torchsynth,  # noqa: E402
)

from studio.synth import MOD_INPUTS, N_PARAMS, PARAM_INDEX, to_human  # noqa: E402

MEDIAN_BAR, P5_BAR, GOOD = 0.999, 0.99, 0.999


def chunked_pearson(a: np.ndarray, b: np.ndarray, chunk: int = 32) -> np.ndarray:
    """Row-wise Pearson in chunks, so float64 copies of 256 × 176,400 samples never exist at once."""
    return np.concatenate([pearson_rows(a[i:i + chunk], b[i:i + chunk]) for i in range(0, len(a), chunk)])


def quarter_correlations(ref: np.ndarray, ours: np.ndarray) -> list[float]:
    """Correlation of one sound in each quarter of its length (NaN where the oracle is silent)."""
    q = len(ref) // 4
    return [float(pearson_rows(ref[None, i * q:(i + 1) * q], ours[None, i * q:(i + 1) * q])[0]) for i in range(4)]


def first_divergence(ref: np.ndarray, ours: np.ndarray, sample_rate: int, window_s: float = 0.05) -> float | None:
    """Start (s) of the first 50 ms window whose correlation falls below 0.99; None if none does."""
    w = int(window_s * sample_rate)
    n = len(ref) // w
    r = pearson_rows(ref[:n * w].reshape(n, w), ours[:n * w].reshape(n, w))
    bad = np.flatnonzero(r < 0.99)
    return None if len(bad) == 0 else bad[0] * window_s


def lfo_edges_to_pitch(v) -> list[str]:
    """LFOs whose discontinuous shapes (saw, rsaw, sqr) carry weight and that bend a VCO's pitch noticeably.

    An edge landing within float32 rounding of a control sample can switch one sample earlier or later than in
    float64, which shifts the oscillator's phase for the rest of the sound: the usual cause of a sudden drop.
    """
    found = []
    for k in (1, 2):
        amounts = np.array([v(f"lfo_{k}.{s}") for s in ("sin", "tri", "saw", "rsaw", "sqr")]) ** np.e
        edge_share = amounts[2:].sum() / max(amounts.sum(), 1e-12)
        for j in (1, 2):
            reach = v(f"mod_matrix.lfo_{k}->vco_{j}_pitch") * abs(v(f"vco_{j}.mod_depth"))
            if edge_share > 0.1 and reach > 1.0:
                found.append(f"lfo_{k} (edge shapes {edge_share:.0%}) → vco_{j} pitch ±{reach:.1f} st")
    return found


def diagnose(theta: np.ndarray, ref: np.ndarray, ours: np.ndarray, sample_rate: int) -> str:
    """One sound's likely trouble spots, in human units."""
    h = to_human(theta.astype(np.float64))
    v = lambda key: h[PARAM_INDEX[key]]  # noqa: E731
    lines = []
    quarters = quarter_correlations(ref, ours)
    t0 = first_divergence(ref, ours, sample_rate)
    edges = lfo_edges_to_pitch(v)
    if t0 is None:
        cause = "no 50 ms window below 0.99: a small, spread-out difference (e.g. slow phase drift)"
        if edges:
            cause += "; LFO edges drive pitch (a small timing flip is possible): " + ", ".join(edges)
    elif edges:
        cause = f"diverges at {t0:.2f} s; likely an LFO edge timing flip: " + ", ".join(edges)
    else:
        cause = f"diverges at {t0:.2f} s; no LFO edge drives a pitch: look at envelopes/oscillators near there"
    lines.append("corr by quarter " + " ".join(f"{c:.4f}" for c in quarters) + f" | {cause}")
    err = np.abs(ref.astype(np.float64) - ours)
    lines.append(f"max |diff| {err.max():.3f} at {err.argmax() / sample_rate:.3f} s; "
                 f"peak ref {np.abs(ref).max():.3f} ours {np.abs(ours).max():.3f}")
    midi = v("keyboard.midi_f0")
    parts = [f"midi_f0 {midi:.1f}, note-on {v('keyboard.duration'):.2f} s"]
    for k in (1, 2):
        depth, tuning = v(f"vco_{k}.mod_depth"), v(f"vco_{k}.tuning")
        reach = {src: v(f"mod_matrix.{src}->vco_{k}_pitch") * depth for src in MOD_INPUTS}
        top = max(reach, key=lambda s: abs(reach[s]))
        total = sum(abs(r) for r in reach.values())
        clip = " (reaches the 127 clip)" if midi + tuning + total > 127 else ""
        parts.append(f"vco_{k}: tuning {tuning:+.1f}, mod_depth {depth:+.1f} st, pitch reach ±{total:.1f} st, "
                     f"largest {top} {reach[top]:+.1f} st{clip}")
    lines.append("; ".join(parts))
    lfo = []
    for k in (1, 2):
        shapes = {s: v(f"lfo_{k}.{s}") for s in ("sin", "tri", "saw", "rsaw", "sqr")}
        main_shape = max(shapes, key=shapes.get)
        routes = {o: v(f"mod_matrix.lfo_{k}->{o}") for o in ("vco_1_pitch", "vco_1_amp", "vco_2_pitch", "vco_2_amp")}
        lfo.append(f"lfo_{k}: {v(f'lfo_{k}.frequency'):.2f} Hz + {v(f'lfo_{k}.mod_depth'):+.1f} Hz·env, "
                   f"mostly {main_shape}, routes " + " ".join(f"{o}={a:.2f}" for o, a in routes.items()))
    lines.append("; ".join(lfo))
    lines.append(f"mixer vco_1 {v('mixer.vco_1'):.2f} vco_2 {v('mixer.vco_2'):.2f}, "
                 f"vco_2 shape {v('vco_2.shape'):.2f}; "
                 f"adsr_1 A {v('adsr_1.attack'):.2f} D {v('adsr_1.decay'):.2f} S {v('adsr_1.sustain'):.2f} "
                 f"R {v('adsr_1.release'):.2f} alpha {v('adsr_1.alpha'):.2f}")
    return "\n      ".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Studio Voice vs torchsynth 1.0.2: full-length correlation table")
    parser.add_argument("--count", type=int, default=256, help="random vectors per configuration")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random θ draws")
    parser.add_argument("--worst", type=int, default=5, help="how many worst sounds to diagnose per configuration")
    parser.add_argument("--oracle-float32", action="store_true",
                        help="also render torchsynth in float32 and report its agreement with float64 (context)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    rows, details = [], []
    ok = True
    for _label, sample_rate, duration, control_rate in CONFIGS:
        theta = rng.random((args.count, N_PARAMS)).astype(np.float32)
        theta[:, PARAM_INDEX["mixer.noise"]] = 0.0
        t0 = time.perf_counter()
        ref, meta = render_with_torchsynth(theta, sample_rate, duration, control_rate)
        t_oracle = time.perf_counter() - t0
        for problem in parameter_table_mismatches(meta):
            print(f"WARNING parameter table differs from torchsynth: {problem}")
        t0 = time.perf_counter()
        ours = render_studio(theta, sample_rate, duration, control_rate)
        t_ours = time.perf_counter() - t0
        r = chunked_pearson(ref, ours)
        r_sorted = np.where(np.isnan(r), -np.inf, r)
        peak_ref, peak_ours = np.abs(ref).max(axis=1), np.abs(ours).max(axis=1)
        rms_ref = np.sqrt((ref.astype(np.float64) ** 2).mean(axis=1))
        rms_ours = np.sqrt((ours.astype(np.float64) ** 2).mean(axis=1))
        peak_err = np.abs(peak_ours / np.maximum(peak_ref, 1e-12) - 1)
        rms_err = np.abs(rms_ours / np.maximum(rms_ref, 1e-12) - 1)
        median, p5 = np.nanmedian(r), np.nanpercentile(r, 5)
        passed = median >= MEDIAN_BAR and p5 >= P5_BAR
        ok &= passed
        row = {"config": f"{sample_rate / 1000:g} kHz / {duration:g} s / {control_rate:g} Hz", "n": args.count,
               "median": median, "p5": p5, "min": np.nanmin(r), "good": np.mean(r >= GOOD),
               "peak": np.max(peak_err), "rms": np.max(rms_err), "pass": passed,
               "times": f"{t_oracle:.0f}/{t_ours:.0f}"}
        if args.oracle_float32:
            ref32, _ = render_with_torchsynth(theta, sample_rate, duration, control_rate, float32=True)
            r32 = chunked_pearson(ref, ref32)
            row["ts32"] = f"{np.nanpercentile(r32, 5):.6f}/{np.nanmin(r32):.6f}"
        rows.append(row)
        worst = np.argsort(r_sorted)[:args.worst]
        details.append((row["config"], [(int(i), r[i], diagnose(theta[i], ref[i], ours[i], sample_rate))
                                        for i in worst]))
        del ref, ours

    import jax

    device = jax.devices()[0]
    print(f"\nStudio Voice vs torchsynth {meta['torchsynth_version']} ({meta['dtype']}, CPU), noise muted, "
          f"seed {args.seed}; studio on JAX {jax.__version__} {device.platform} ({device.device_kind}), "
          f"host {platform.machine()} with {os.cpu_count()} CPUs")
    header = (f"| configuration | sounds | median r | p5 r | min r | r ≥ {GOOD} | max peak err | max RMS err | "
              f"bar (median ≥ {MEDIAN_BAR}, p5 ≥ {P5_BAR}) | time oracle/ours s (ours incl. compile) |")
    if args.oracle_float32:
        header += " torchsynth f32 vs f64 p5/min |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        line = (f"| {row['config']} | {row['n']} | {row['median']:.6f} | {row['p5']:.6f} | {row['min']:.6f} | "
                f"{row['good']:.1%} | {row['peak']:.2%} | {row['rms']:.2%} | {'PASS' if row['pass'] else 'FAIL'} | "
                f"{row['times']} |")
        if args.oracle_float32:
            line += f" {row['ts32']} |"
        print(line)
    for config, worst in details:
        print(f"\nworst sounds at {config}:")
        for i, r, text in worst:
            print(f"  #{i} r={r:.6f}\n      {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
