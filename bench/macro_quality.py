"""Do macro knobs follow their slider, and do the other qualities stay? (issue 17)

    .venv/bin/python bench/macro_quality.py                 # 11 macros × 10 base sounds × 20 slider steps
    .venv/bin/python bench/macro_quality.py --quick         # 3 base sounds × 6 steps
    .venv/bin/python bench/macro_quality.py --macros brightness,pitch --json out.json

For each macro and base sound (factory presets; for the rate macros a base without a wobble first gets one from
the depth macro), the slider is set to 20 values across a range the synth can reach from a typical sound, each
moved *from the base* (not chained) with ``studio.explore.macros.move``, and the result is measured. Reported
per macro:

- Spearman's ρ between the slider values and the measured quality, per base sound (mean, lowest); target mean
  ≥ 0.95, none below 0.85;
- the change of the *other* qualities (mean over the kept qualities of |Δ| in scoring units: an octave of
  brightness, a doubling of a time, 12 st of pitch, 0.15 of flatness, …), median over moves, against the naive
  approach: the single knob most related to the quality (``Macro.naive_knob``) set to whichever of 33 values lands
  nearest the target (its ρ too);
- renders per move and milliseconds per move (after compilation).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BASES = ("bass", "bell", "drone", "lead", "pad", "pluck", "siren", "wobble", "alarm", "chip_trill")


def slider_values(name: str, measured: float, duration: float, steps: int) -> np.ndarray:
    """The slider positions tried for one base: a range around the measured value the synth can usually reach."""
    if name == "pitch":
        return np.clip(measured + np.linspace(-12.0, 12.0, steps), 33.0, 99.0)  # the pitch tracker's range
    if name == "brightness":
        return measured * np.geomspace(0.5, 1.25, steps)
    if name == "noisiness":
        return np.linspace(0.0, 0.35, steps)
    if name == "attack":
        return np.geomspace(0.003, min(0.8, 0.4 * duration), steps)
    if name in ("decay", "length"):
        top = min(measured * 1.5, 0.9 * duration)
        return np.geomspace(max(measured * 0.35, 0.02), top, steps)
    if name == "vibrato_depth":
        return np.linspace(0.0, 2.0, steps)
    if name == "tremolo_depth":
        return np.linspace(0.0, 12.0, steps)
    if name in ("vibrato_rate", "tremolo_rate"):
        return measured * np.geomspace(0.5, 2.0, steps)
    if name == "richness":
        return np.maximum(measured * np.geomspace(0.6, 1.3, steps), 1.0)
    raise ValueError(name)


def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y)
    if ok.sum() < 3 or np.ptp(y[ok]) == 0:
        return 0.0
    return float(spearmanr(x[ok], y[ok]).statistic) * ok.mean()  # missing measurements count as failures


def prepare_base(preset, name: str):
    """The base θ for a macro: the rate macros need a wobble to have a rate, so a base without an LFO on the pitch
    (vibrato) or on the level (tremolo) gets one: LFO 1 at 5 Hz, ±0.5 st on both oscillators; LFO 2 at 5 Hz on
    every audible amplifier."""
    from studio.explore.macros import Knobs, _tremolo_lfos, _vibrato_lfos, measure

    theta = np.asarray(preset.theta, np.float32)
    knobs = Knobs(theta)
    if name == "vibrato_rate" and not _vibrato_lfos(knobs):
        knobs["lfo_1.frequency"] = 5.0
        for osc in ("vco_1", "vco_2"):
            knobs[f"{osc}.mod_depth"], knobs[f"mod_matrix.lfo_1->{osc}_pitch"] = 1.0, 1.0
        theta = knobs.theta()
    if name == "tremolo_rate" and not _tremolo_lfos(knobs):
        knobs["lfo_2.frequency"] = 5.0
        for amp in ("vco_1_amp", "vco_2_amp", "noise_amp"):
            knobs[f"mod_matrix.lfo_2->{amp}"] = 0.5 if knobs.level(amp) > 0 else 0.0
        theta = knobs.theta()
    return theta, measure(theta, preset.settings)


def run(macros, bases, steps: int, naive: bool) -> dict:
    from studio.explore.macros import MACROS, kept_qualities, move, naive_move, quality_gap
    from studio.presets import factory_preset

    results = {}
    for name in macros:
        rows = []
        for base_name in bases:
            preset = factory_preset(base_name)
            theta, before = prepare_base(preset, name)
            rate = {"vibrato_depth": "vibrato_rate", "tremolo_depth": "tremolo_rate"}.get(name)
            if not np.isfinite(before[name]) or (rate and not np.isfinite(before[rate])):
                print(f"  {name} / {base_name}: no measurable {rate or name} (too short, or none); skipped",
                      flush=True)
                continue
            values = slider_values(name, before[name], preset.settings.duration, steps)
            kept = kept_qualities(before, [name])
            measured, others, renders, ms, per_unit = [], [], [], [], []
            naive_measured, naive_others, naive_renders, naive_per_unit = [], [], [], []
            for target in values:
                start = time.perf_counter()
                m = move(theta, preset.settings, {name: float(target)}, before=before)
                ms.append((time.perf_counter() - start) * 1000.0)
                measured.append(m.after[name])
                others.append(np.mean([quality_gap(q, m.after[q], before[q]) for q in kept]))
                per_unit.append(others[-1] / max(float(quality_gap(name, m.after[name], before[name])), 0.05))
                renders.append(m.renders)
                if naive:
                    t, after, r = naive_move(theta, preset.settings, name, float(target), before=before)
                    naive_measured.append(after[name])
                    naive_others.append(np.mean([quality_gap(q, after[q], before[q]) for q in kept]))
                    naive_per_unit.append(naive_others[-1] / max(float(quality_gap(name, after[name], before[name])),
                                                                 0.05))
                    naive_renders.append(r)
            row = dict(base=base_name, rho=spearman(values, measured), others=float(np.median(others)),
                       per_unit=float(np.median(per_unit)),
                       renders=float(np.mean(renders)), ms=float(np.median(ms)),
                       reached=float(np.mean([MACROS[name].reach >= 0 and
                                              _reached(name, a, t) for a, t in zip(measured, values)])))
            if naive:
                row.update(naive_rho=spearman(values, naive_measured), naive_others=float(np.median(naive_others)),
                           naive_per_unit=float(np.median(naive_per_unit)),
                           naive_renders=float(np.mean(naive_renders)))
            rows.append(row)
            print(f"  {name:14s} {base_name:10s} ρ {row['rho']:.3f} others {row['others']:.3f}"
                  + (f" | naive ρ {row['naive_rho']:.3f} others {row['naive_others']:.3f}" if naive else "")
                  + f" | {row['renders']:.0f} renders, {row['ms']:.0f} ms, reached {row['reached']:.0%}", flush=True)
        results[name] = rows
    return results


def _reached(name, after, target):
    from studio.explore.macros import reached

    return reached(name, after, target)


def table(results: dict, naive: bool) -> str:
    head = ("| macro | mean ρ | lowest ρ | others' change (median) | per unit moved | renders / move | ms / move |"
            " targets reached |" + (" naive knob | naive mean ρ | naive others' change | per unit moved |"
                                    if naive else ""))
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---|---:|---:|---:|" if naive else "")
    lines = [head, sep]
    from studio.explore.macros import MACROS

    all_rho = []
    for name, rows in results.items():
        if not rows:
            continue
        rho = [r["rho"] for r in rows]
        all_rho += rho
        line = (f"| {MACROS[name].label} | {np.mean(rho):.3f} | {np.min(rho):.3f} | "
                f"{np.median([r['others'] for r in rows]):.3f} | {np.median([r['per_unit'] for r in rows]):.3f} | "
                f"{np.mean([r['renders'] for r in rows]):.0f} | "
                f"{np.median([r['ms'] for r in rows]):.0f} | {np.mean([r['reached'] for r in rows]):.0%} |")
        if naive:
            line += (f" `{MACROS[name].naive_knob}` | {np.mean([r['naive_rho'] for r in rows]):.3f} | "
                     f"{np.median([r['naive_others'] for r in rows]):.3f} | "
                     f"{np.median([r['naive_per_unit'] for r in rows]):.3f} |")
        lines.append(line)
    lines.append(f"\nAll macros: mean ρ {np.mean(all_rho):.3f}, lowest {np.min(all_rho):.3f} "
                 f"({sum(r < 0.85 for r in all_rho)} of {len(all_rho)} below 0.85)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 base sounds × 6 steps")
    parser.add_argument("--macros", default="", help="comma-separated macro names (default: all)")
    parser.add_argument("--bases", type=int, default=None, help="how many base sounds (default 10; quick 3)")
    parser.add_argument("--steps", type=int, default=None, help="slider steps (default 20; quick 6)")
    parser.add_argument("--no-naive", action="store_true", help="skip the single-knob baseline")
    parser.add_argument("--json", type=Path, help="write the per-base rows here")
    args = parser.parse_args(argv)
    from studio.explore.macros import MACRO_NAMES
    from studio.synth.cpu import tune_cpu

    tune_cpu()
    macros = [m for m in args.macros.split(",") if m] or list(MACRO_NAMES)
    bases = BASES[:args.bases or (3 if args.quick else 10)]
    steps = args.steps or (6 if args.quick else 20)
    start = time.perf_counter()
    results = run(macros, bases, steps, not args.no_naive)
    print()
    print(table(results, not args.no_naive))
    print(f"\n{len(bases)} base sounds × {steps} steps; {time.perf_counter() - start:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
