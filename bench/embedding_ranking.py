"""The ranking test for perceptual embeddings (after Combes et al. 2025), on sweeps of the Voice.

    .venv/bin/python bench/embedding_ranking.py                  # every candidate, 10 base sounds, seed 0
    .venv/bin/python bench/embedding_ranking.py --bases 10 --seed 1 --candidates mel128 mel128+cdf
    .venv/bin/python bench/embedding_ranking.py --calibrate      # the scales in studio/audio/embedding.py
    .venv/bin/python bench/embedding_ranking.py --clap DIR       # add CLAP from a local checkpoint folder

13 attributes × ``--bases`` base sounds × 20 monotonic steps (``voice_sweeps.py``), 48 kHz, 2 s. For each sweep
the steps are ranked by distance to the first and to the last step; Spearman's ρ against the true order,
averaged over both ends and the sweeps (``studio.audio.embedding.ranking_scores``). Prints one row per attribute,
one column per candidate, the means, and the winner against the 0.95 target. Published anchors on another synth
(Combes et al.): mel128 0.921, MFCC40 0.913, mSTFT 0.880, CLAP 0.953, EfficientAT mn20+mel 0.976.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import cpu_name  # noqa: E402
from voice_sweeps import ATTRIBUTES, STEPS, attribute_sweeps, random_audible_thetas, render_sweeps  # noqa: E402

TARGET = 0.95
TIE = 0.005  # mean ρ differences below this are within the spread between seeds
ANCHORS = {"mel128": 0.921, "mfcc40": 0.913, "mstft": 0.880, "clap": 0.953}


def clap_candidate(folder: Path):
    """A CLAP audio-embedding candidate from a local ``transformers`` checkpoint (cosine distance), or None.

    Real weights only: without a checkpoint folder there is no CLAP column (random weights say nothing).
    """
    from studio.audio.embedding import Candidate

    if not folder.is_dir():
        print(f"CLAP skipped: {folder} is not a checkpoint folder", file=sys.stderr)
        return None
    import jax.numpy as jnp
    import torch
    from transformers import ClapFeatureExtractor, ClapModel

    model = ClapModel.from_pretrained(str(folder)).eval()
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")

    def embed(audio, sample_rate):
        inputs = extractor(list(np.asarray(audio)), sampling_rate=sample_rate, return_tensors="pt")
        with torch.no_grad():
            e = model.get_audio_features(**inputs)
        e = torch.nn.functional.normalize(e, dim=-1).numpy()
        return jnp.asarray(e)  # unit vectors: Euclidean distance is monotonic in cosine distance

    return Candidate("clap", f"LAION-CLAP audio embedding ({folder.name})", embed)


def rank_candidates(candidates, bases: int, seed: int, sample_rate: int = 48_000) -> dict[str, np.ndarray]:
    """ρ per attribute for each candidate: {name: [len(ATTRIBUTES)]} (mean over the sweeps)."""
    from studio.audio.embedding import ranking_scores
    from studio.synth import RenderSettings

    settings = RenderSettings(sample_rate=sample_rate)
    scores = {c.name: np.zeros(len(ATTRIBUTES)) for c in candidates}
    for a, attribute in enumerate(ATTRIBUTES):
        audio = render_sweeps(attribute_sweeps(attribute, bases, seed), settings)  # [S, STEPS, T]
        for c in candidates:
            # one sweep at a time: the time-resolved candidates are ~0.6 M numbers per sound
            embeddings = np.stack([np.asarray(c.embed(audio[s], sample_rate)) for s in range(bases)])
            scores[c.name][a] = np.nanmean(ranking_scores(embeddings))
        print(f"  {attribute.name} done", file=sys.stderr, flush=True)
    return scores


def print_table(scores: dict[str, np.ndarray], bases: int, seed: int) -> str:
    """Print the per-attribute table and the verdict; return the winner's name."""
    names = list(scores)
    print(f"\nRanking test: {len(ATTRIBUTES)} attributes × {bases} base sounds × {STEPS} steps, seed {seed}, "
          f"48 kHz / 2 s; {cpu_name()}")
    print(f"| attribute | {' | '.join(names)} |")
    print(f"|---|{'---:|' * len(names)}")
    for a, attribute in enumerate(ATTRIBUTES):
        print(f"| {attribute.name} | " + " | ".join(f"{scores[n][a]:.3f}" for n in names) + " |")
    means = {n: float(np.mean(scores[n])) for n in names}
    print("| **mean** | " + " | ".join(f"**{means[n]:.3f}**" for n in names) + " |")
    print("| lowest | " + " | ".join(f"{np.min(scores[n]):.3f}" for n in names) + " |")
    print("| published anchor | " + " | ".join(f"{ANCHORS[n]:.3f}" if n in ANCHORS else "" for n in names) + " |")
    # Means within TIE of the best are one result (seed 0 and seed 1 move them by ~0.004): among those, the
    # candidate whose worst attribute is best, since the studio's distance must not fail any attribute.
    best = max(means.values())
    contenders = [n for n in names if means[n] >= best - TIE]
    winner = max(contenders, key=lambda n: (np.min(scores[n]), means[n]))
    verdict = "meets" if means[winner] >= TARGET else "misses"
    print(f"\nwinner: {winner} (mean ρ {means[winner]:.3f}, lowest attribute {np.min(scores[winner]):.3f}; "
          f"the most robust of the means within {TIE} of the best: {', '.join(contenders)}); "
          f"{verdict} the {TARGET} target")
    from studio.audio.embedding import WINNER

    if WINNER in names and WINNER != winner:
        print(f"note: studio.audio.embedding uses {WINNER}, not this run's winner")
    return winner


def calibrate(count: int = 256, seed: int = 2025) -> None:
    """Print ``_BLOCK_SCALES`` for ``studio/audio/embedding.py`` from random audible sounds.

    Each block (RMS-normalized) is first divided by its own median pairwise distance; then every scale is
    multiplied by the median distance of the joined winner (mel128 + cdf + descriptors), so that the median
    random pair ends up exactly 1.0 apart. The envelope block (not in the winner) gets the same treatment.
    """
    import jax.numpy as jnp

    from studio.audio.embedding import WINNER_BLOCKS, embedding_blocks
    from studio.synth import RenderSettings, render

    settings = RenderSettings()
    thetas = random_audible_thetas(count, seed, settings)
    audio = jnp.asarray(np.asarray(render(thetas, settings)))
    names = ("mel128", "cdf", "descriptors", "temporal", "envelope")
    blocks = {k: np.asarray(v, np.float64).reshape(count, -1)
              for k, v in embedding_blocks(audio, settings.sample_rate, names).items()}
    upper = np.triu_indices(count, 1)
    rms = {k: np.sqrt(np.mean((x[:, None] - x[None]) ** 2, axis=-1))[upper] for k, x in blocks.items()}
    medians = {k: float(np.median(d)) for k, d in rms.items()}
    joined = np.sqrt(sum(rms[k] ** 2 / medians[k] ** 2 for k in WINNER_BLOCKS))
    overall = float(np.median(joined))
    print(f"{count} random audible sounds (seed {seed}); median pairwise RMS distance per block: "
          + ", ".join(f"{k} {v:.4g}" for k, v in medians.items()) + f"; joined winner {overall:.4g}")
    print("_BLOCK_SCALES = {" + ", ".join(f'"{k}": {medians[k] * overall:.4g}' for k in names) + "}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bases", type=int, default=10, help="base sounds per attribute (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the base sounds (default 0)")
    parser.add_argument("--candidates", nargs="+", help="candidate names (default: all)")
    parser.add_argument("--clap", type=Path, metavar="DIR", help="a local CLAP checkpoint folder (transformers)")
    parser.add_argument("--calibrate", action="store_true", help="print the embedding's block scales and exit")
    args = parser.parse_args(argv)
    if args.calibrate:
        calibrate()
        return 0
    from studio.audio.embedding import CANDIDATES

    unknown = set(args.candidates or ()) - set(CANDIDATES)
    if unknown:
        parser.error(f"unknown candidates {sorted(unknown)}; known: {', '.join(CANDIDATES)}")
    candidates = [CANDIDATES[n] for n in (args.candidates or CANDIDATES)]
    if args.clap is not None:
        clap = clap_candidate(args.clap)
        candidates += [clap] if clap else []
    else:
        print("CLAP: no checkpoint given (--clap DIR); weights cannot be downloaded here, so no CLAP column",
              file=sys.stderr)
    start = time.perf_counter()
    scores = rank_candidates(candidates, args.bases, args.seed)
    print_table(scores, args.bases, args.seed)
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
