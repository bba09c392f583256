"""``python -m studio dataset``: make a dataset of the synth's sounds (``studio.cli`` registers it with
:func:`add_parser`; :func:`run` is the command).

    python -m studio dataset OUT_DIR --kind random|doppelgangers|sweeps|presets --count N --shard-size M --seed S
                     --format parquet|webdataset [--fields theta,settings,audio] [--engine local|ray] [--address A]
                     [--audio-format flac|int16|float32] [--sample-rate HZ] [--duration S] [--chunk N]
                     [--deltas 0.25[,0.5…]] [--variants K] [--lock GROUP …] [--around PRESET …] [--spread σ]
                     [--attributes NAME[,NAME…]] [--presets DIR] [--clap-model ID_OR_DIR] [--threads N]
                     [--num-cpus N] [--no-progress]

Running the same command again resumes: finished shards (checked against their hashes) are kept, the rest made.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from studio import checks

from .spec import (AUDIO_FORMATS, DEFAULT_CHUNK, DEFAULT_FIELDS, DEFAULT_SHARD_SIZE, FIELD_HELP, FIELDS, FORMATS,
                   KINDS, MAX_CHUNK, MAX_COUNT, MAX_VARIANTS, DatasetSpec, parse_list)


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(checks.check_number(part, 0.0, 1.0, "--deltas") for part in parse_list(text, "--deltas"))


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``dataset`` sub-command to ``studio.cli``'s sub-parsers."""
    from studio.cli import _checked, _duration, _sample_rate

    whole = lambda lo, hi, name: _checked(checks.check_whole, lo, hi, name)  # noqa: E731
    parser = commands.add_parser(
        "dataset", help="make a dataset of the synth's sounds (Parquet or WebDataset shards; local or Ray)",
        description="Make a dataset of the synth's sounds in OUT_DIR: shards of samples (θ, settings, audio, "
                    "features) in Parquet or WebDataset tar files, with spec.json (written first) and a manifest of "
                    "finished shards with their SHA-256 hashes. Sample i of shard s depends only on the options and "
                    "(s, i), so any engine, machine or core count writes the same bytes, and running the same "
                    "command again resumes an interrupted run.",
        epilog="fields: " + "; ".join(f"{name}: {text}" for name, text in FIELD_HELP.items()))
    parser.add_argument("output", metavar="OUT_DIR", type=Path, help="the dataset's folder (new, empty, or the same "
                                                                     "dataset's to resume)")
    parser.add_argument("--kind", choices=KINDS, required=True,
                        help="random: θ uniform (or --around presets); doppelgangers: anchors each followed by "
                             "--variants doppelgängers per δ; sweeps: one attribute swept in 20 steps from a base "
                             "sound; presets: the preset files of --presets DIR")
    parser.add_argument("--count", metavar="N", type=whole(1, MAX_COUNT, "count"),
                        help="samples (rows); doppelgängers count anchors and variants alike, sweeps 20 per sweep "
                             "(required, except for presets: default every file)")
    parser.add_argument("--shard-size", metavar="M", type=whole(1, MAX_COUNT, "shard_size"),
                        default=DEFAULT_SHARD_SIZE, help=f"samples per shard file (default {DEFAULT_SHARD_SIZE})")
    parser.add_argument("--seed", metavar="S", type=_checked(checks.check_seed, "seed"), default=0,
                        help="the dataset's seed (default 0)")
    parser.add_argument("--format", choices=FORMATS, default="parquet", help="shard files (default parquet)")
    parser.add_argument("--fields", metavar="A,B", type=_checked(parse_list, "--fields"), default=DEFAULT_FIELDS,
                        help=f"what each sample holds, from {', '.join(FIELDS)} (default {','.join(DEFAULT_FIELDS)})")
    parser.add_argument("--audio-format", choices=AUDIO_FORMATS, default="flac",
                        help="how audio is stored: FLAC (16-bit, lossless), int16 or float32 samples (default flac)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this process on every core; ray: shards as Ray tasks (default local)")
    parser.add_argument("--address", metavar="A",
                        help="with --engine ray: an existing cluster (auto, ray://host:port); default: a local Ray "
                             "started for the run")
    parser.add_argument("--num-cpus", metavar="N", type=whole(1, None, "num_cpus"),
                        help="with --engine ray and no --address: CPUs of the local Ray (default: all cores)")
    parser.add_argument("--threads", metavar="N", type=whole(1, None, "threads"),
                        help="with --engine local: render threads (default: one per core, or $SYNTH_STUDIO_THREADS)")
    parser.add_argument("--sample-rate", metavar="HZ", type=_checked(_sample_rate), default=48_000,
                        help="render rate (default 48000)")
    parser.add_argument("--duration", metavar="S", type=_checked(_duration), default=2.0,
                        help="seconds per sound (default 2)")
    parser.add_argument("--chunk", metavar="N", type=whole(1, MAX_CHUNK, "chunk"), default=DEFAULT_CHUNK,
                        help=f"sounds per render call (part of the spec: it fixes the floating-point rounding) "
                             f"(default {DEFAULT_CHUNK})")
    parser.add_argument("--deltas", metavar="δ[,δ…]", type=_checked(_numbers), default=(0.25,),
                        help="doppelgangers: step sizes δ in normalized units (default 0.25)")
    parser.add_argument("--variants", metavar="K", type=whole(1, MAX_VARIANTS, "variants"), default=8,
                        help="doppelgangers: variants per anchor and δ (default 8)")
    parser.add_argument("--lock", metavar="GROUP", nargs="+", action="extend", default=[],
                        help="doppelgangers, random --around: knobs kept at the anchor's values: pitch, note_length, "
                             "a module (adsr_1, mixer, …) or a module.parameter key (put OUT_DIR first)")
    parser.add_argument("--around", metavar="PRESET", nargs="+", action="extend", default=[],
                        help="random: sounds around these presets (in turn) instead of uniform θ; doppelgangers: "
                             "these presets as anchors. Factory names, preset files or folders")
    parser.add_argument("--spread", metavar="σ", type=_checked(checks.check_number, 0.0, 1.0, "spread"), default=0.1,
                        help="random --around: clip(preset + σ·z) (default 0.1)")
    parser.add_argument("--attributes", metavar="A,B", type=_checked(parse_list, "--attributes"), default=(),
                        help="sweeps: attributes to sweep in turn (default all 13: attack, decay, …)")
    parser.add_argument("--presets", metavar="DIR", help="presets: the folder of preset files to render")
    parser.add_argument("--clap-model", metavar="ID_OR_DIR",
                        help="the clap field's weights (default: $SYNTH_STUDIO_CLAP, else laion/clap-htsat-unfused)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)
    return parser


def spec_from_args(args) -> DatasetSpec:
    """The spec the options describe (checked later, with everything else, before any work)."""
    return DatasetSpec(kind=args.kind, count=args.count, shard_size=args.shard_size, seed=args.seed,
                       format=args.format, fields=tuple(args.fields), audio_format=args.audio_format,
                       sample_rate=args.sample_rate, duration=args.duration, chunk=args.chunk,
                       deltas=tuple(args.deltas), variants=args.variants, locks=tuple(args.lock),
                       around=tuple(args.around), spread=args.spread, attributes=tuple(args.attributes),
                       presets=args.presets, clap_model=args.clap_model)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


def run(args) -> int:
    """Make (or resume) the dataset and print what was done."""
    from studio.search.engine import use_compilation_cache

    from .engines import make_dataset

    use_compilation_cache()
    summary = make_dataset(spec_from_args(args), args.output, engine=args.engine, address=args.address,
                           num_cpus=args.num_cpus, threads=args.threads, progress=not args.no_progress,
                           echo=lambda line: print(line, flush=True))
    spec = summary.spec
    if not summary.shards_made:
        print(f"nothing to do: all {spec.shard_count} shards of {args.output} are finished")
        return 0
    print(f"wrote {summary.shards_made} shards ({summary.samples_made:,} samples, {_size(summary.bytes_made)}, "
          f"{_size(summary.bytes_per_sample)} per sample) to {args.output} in {summary.seconds:.1f} s: "
          f"{summary.samples_per_second:,.1f} samples/s")
    return 0
