"""Do edits in words move the named qualities the right way, and stay near the sound? (issue 17)

    .venv/bin/python bench/edit_quality.py               # 30 phrases × 12 base sounds (two of them noisy)
    .venv/bin/python bench/edit_quality.py --quick       # 10 phrases × 3 base sounds
    .venv/bin/python bench/edit_quality.py --json out.json

Each phrase is applied to each base sound (factory presets: ten tonal ones and, so that "less noise" has noise to
take away, the wind and the snare) with ``studio.explore.word_edits.apply_edit``. For
every quality the words name, the edit *moves it the right way* when the measured value moved in the asked
direction by at least a tenth of the asked step (or, for "not …", did not move that way; for a sound word, landed
in its range). Parts a sound cannot take ("faster vibrato" on a sound without one, "less noise" on a sound without
noise) are counted apart. Reported: the share of named qualities moved the right way (target ≥ 95 %), per phrase;
the perceptual distance from the start sound (median, 90th percentile) against the distances of δ = 0.1 and
δ = 0.25 doppelgängers of the same sounds (median of 7 each); how often an edit stayed within its bound; ms per
edit (after compilation).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASES = ("bass", "bell", "drone", "lead", "pad", "pluck", "siren", "wobble", "alarm", "chip_trill", "wind", "snare")
PHRASES = ("brighter", "darker", "slightly brighter", "much darker", "slightly darker", "higher", "lower",
           "an octave lower", "an octave higher", "up a fifth", "shorter", "longer", "shorter and more wobble",
           "more wobble", "less wobble", "more tremolo", "less noise", "noisier", "snappier", "slower attack",
           "longer tail", "shorter decay", "richer", "thinner", "louder", "quieter", "brighter but not longer",
           "darker and longer", "50% brighter", "more like a bell")
QUICK = ("brighter", "slightly darker", "an octave lower", "shorter and more wobble", "less noise", "snappier",
         "richer", "longer", "not brighter, shorter", "more like a bell")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 phrases × 3 base sounds")
    parser.add_argument("--bases", type=int, default=None, help="how many base sounds (default all 12; quick 3)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from studio.explore.word_edits import apply_edit, variation_budget
    from studio.presets import factory_preset
    from studio.synth.cpu import tune_cpu

    tune_cpu()
    phrases = QUICK if args.quick else PHRASES
    bases = BASES[:args.bases or (3 if args.quick else len(BASES))]
    rows = []
    budgets = {}
    start = time.perf_counter()
    for base in bases:
        preset = factory_preset(base)
        budgets[base] = {d: variation_budget(preset.theta, preset.settings, d)[0] for d in (0.1, 0.25)}
        for phrase in phrases:
            t0 = time.perf_counter()
            try:
                result = apply_edit(preset.theta, preset.settings, phrase)
            except Exception as error:  # noqa: BLE001 — "nothing in this edit applies to this sound"
                rows.append(dict(base=base, phrase=phrase, error=str(error)))
                print(f"  {base:10s} {phrase!r:28s} n/a: {error}", flush=True)
                continue
            ms = (time.perf_counter() - t0) * 1000.0
            rows.append(dict(base=base, phrase=phrase, ok=[c.ok for c in result.changes],
                             qualities=[c.quality for c in result.changes], distance=result.distance,
                             budget=result.budget, delta=result.delta, ms=ms, renders=result.renders,
                             skipped=len(result.notes)))
            marks = " ".join(f"{c.quality}{'✓' if c.ok else '✗'}" for c in result.changes)
            print(f"  {base:10s} {phrase!r:28s} {marks:40s} d {result.distance:.2f} (≤ {result.budget:.2f}) "
                  f"{ms:.0f} ms", flush=True)
    done = [r for r in rows if "ok" in r]
    oks = [ok for r in done for ok in r["ok"]]
    distances = np.array([r["distance"] for r in done])
    within = np.mean([r["distance"] <= r["budget"] * 1.05 for r in done])
    d01 = np.median([b[0.1] for b in budgets.values()])
    d025 = np.median([b[0.25] for b in budgets.values()])
    print()
    print("| phrase | right way | edits |")
    print("|---|---:|---:|")
    for phrase in phrases:
        mine = [ok for r in done if r["phrase"] == phrase for ok in r["ok"]]
        print(f"| {phrase} | {np.mean(mine):.0%} | {sum(1 for r in done if r['phrase'] == phrase)} |"
              if mine else f"| {phrase} | n/a | 0 |")
    print()
    print(f"named qualities moved the right way: {np.mean(oks):.1%} of {len(oks)} "
          f"({len(rows) - len(done)} edits did not apply to their sound)")
    print(f"distance from the start: median {np.median(distances):.2f}, 90th percentile "
          f"{np.percentile(distances, 90):.2f}; δ = 0.1 variations {d01:.2f}, δ = 0.25 variations {d025:.2f} "
          f"(medians over the bases); within the edit's own bound {within:.0%}")
    ms = [r["ms"] for r in done]
    print(f"ms per edit: median {np.median(ms):.0f}, 90th percentile {np.percentile(ms, 90):.0f}; "
          f"renders per edit {np.mean([r['renders'] for r in done]):.0f}")
    print(f"{len(phrases)} phrases × {len(bases)} base sounds; {time.perf_counter() - start:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(dict(rows=rows, budgets={k: {str(d): v for d, v in b.items()}
                                                                 for k, b in budgets.items()}), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
