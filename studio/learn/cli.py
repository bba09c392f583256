"""``python -m studio learn proxy|inverse …``: train the learned models with fixed seeds (:mod:`.train`).

    python -m studio learn proxy   [--out DIR] [--count N | --data FOLDER] [--steps N] [--target embedding|clap]
                                   [--clap-model ID]
    python -m studio learn inverse [--out DIR] [--count N | --data FOLDER] [--steps N]
                                   [--schedule all|param|mix|switch]

Without options these are the shipped models' recipes (``assets/models``). ``--count`` and ``--steps`` shrink a
run (a quick try, a test); ``--data`` trains on a dataset folder made by ``python -m studio dataset`` (with the
theta and audio fields) instead of rendering the recipe's sounds; the header of each written model records what
it was trained with.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from studio import checks
from studio.errors import SettingsError


def add_parser(commands) -> None:
    """Add ``learn`` to the studio's subcommands (``python -m studio``'s argparse sub-parsers)."""
    from studio.cli import _checked as checked  # the CLI's one way of turning a check into an option type

    learn = commands.add_parser(
        "learn", help="train the neural proxy or the inverse model (flax)",
        description="Train the learned models the matcher uses: the neural proxy (θ → perceptual embedding) and "
                    "the inverse model (sound → θ), on sounds rendered from fixed seeds. Without options: the "
                    "shipped recipes, written to assets/models.")
    learn.add_argument("model", choices=("proxy", "inverse"), help="which model to train")
    learn.add_argument("--out", metavar="DIR", type=Path,
                       help="folder of the model files (default: $SYNTH_STUDIO_MODELS, else assets/models)")
    learn.add_argument("--count", metavar="N", type=checked(checks.check_whole, 64, 1_000_000, "count"),
                       help="training sounds to render (default: the recipes': 262144; 2048 with --target clap)")
    learn.add_argument("--data", metavar="FOLDER", type=Path,
                       help="train on the sounds of a finished dataset folder made by `python -m studio dataset` "
                            "(fields theta and audio; any kind, its own render settings) instead of rendering the "
                            "recipe's (--target embedding only)")
    learn.add_argument("--steps", metavar="N", type=checked(checks.check_whole, 1, 1_000_000, "steps"),
                       help="training steps (default: the recipe's)")
    learn.add_argument("--schedule", choices=("all", "param", "mix", "switch"), default="all",
                       help="inverse model: which training schedule(s) (default: all three)")
    learn.add_argument("--target", choices=("embedding", "clap"), default="embedding",
                       help="proxy: what it predicts: the studio's perceptual embedding (default) or CLAP's audio "
                            "embedding (needs CLAP weights; one proxy per CLAP model)")
    learn.add_argument("--clap-model", metavar="ID_OR_DIR",
                       help="--target clap: the CLAP weights (default: $SYNTH_STUDIO_CLAP, else "
                            "laion/clap-htsat-unfused)")
    learn.set_defaults(run=run)


def run(args) -> int:
    """Run ``learn``: train and write the asked model(s), printing progress and the held-out measures."""
    from studio.synth.cpu import tune_cpu

    from . import train

    tune_cpu()
    data, held_out = train.SHIPPED_DATA, train.HELD_OUT
    if args.data is not None and args.count is not None:
        raise SettingsError("--count and --data do not go together: a dataset folder holds its own sounds", "data")
    if args.data is not None and args.target == "clap":
        raise SettingsError("--data trains the embedding proxy and the inverse model; the CLAP proxy renders its "
                            "own sounds (--count)", "data")
    if args.data is not None:
        data = args.data
    elif args.count is not None:  # a smaller run measures itself on a proportionally smaller held-out set
        data = dataclasses.replace(data, count=args.count).validated()
        held_out = dataclasses.replace(held_out, count=max(64, min(held_out.count, args.count // 4))).validated()
    if args.model == "proxy" and args.target == "clap":
        from .clap_proxy import train_clap_proxy

        train_clap_proxy(args.out, clap_model=args.clap_model, count=args.count, steps=args.steps)
        return 0
    if args.model == "proxy":
        recipe = train.SHIPPED_PROXY if args.steps is None else dataclasses.replace(train.SHIPPED_PROXY,
                                                                                    steps=args.steps)
        train.train_shipped_proxy(args.out, data, recipe, held_out)
    else:
        recipe = train.SHIPPED_INVERSE if args.steps is None else dataclasses.replace(train.SHIPPED_INVERSE,
                                                                                      steps=args.steps)
        schedules = ("param", "mix", "switch") if args.schedule == "all" else (args.schedule,)
        train.train_shipped_inverse(args.out, schedules, data, recipe, held_out)
    return 0
