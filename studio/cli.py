"""``python -m studio …``: the studio's jobs from a shell.

    python -m studio render PRESET -o out.wav [--sample-rate N] [--duration S] [--seed N] [--float]
    python -m studio prompt "bees buzzing" -o out.wav [--budget quick|standard|paper] [--scorer auto|clap|descriptors]
                     [--seed N] [--strategy NAME] [--restarts N] [--pitch C3] [--length S] [--brightness HZ]
                     [--noisiness X] [--clap-model ID_OR_DIR] [--lock GROUP ...] [--from PRESET]
    python -m studio match target.wav -o matched.yaml [--budget quick|standard|paper] [--seed N] [--restarts N]
                     [--keep N] [--lock-pitch] [--lock-length] [--duration S] [--clap-weight W] [--learned auto|off]
    python -m studio learn proxy|inverse [--out DIR] [--count N | --data FOLDER] [--steps N] [--schedule …] [--target …]
    python -m studio presets
    python -m studio info
    python -m studio vary PRESET -o DIR [--delta 0.25] [--count 8] [--seed N] [--lock GROUP ...]
    python -m studio morph A B -o DIR [--steps 5] [--mode linear|even] [--lock GROUP ...]
    python -m studio play PRESET SONG.mid -o song.wav [--sample-rate N] [--tail S]
    python -m studio export-instrument PRESET -o OUT.zip [--format sfz|dspreset|both] [--every N] [--low NOTE]
                     [--high NOTE] [--sample-rate N] [--bits 16|24]
    python -m studio dataset OUT_DIR --kind random|doppelgangers|sweeps|presets --count N … (see studio/data/cli.py)
    python -m studio macro PRESET --brightness +50% --length 0.3 -o OUT.yaml [--lock GROUP ...]
    python -m studio edit PRESET "brighter, shorter" -o OUT.yaml [--lock GROUP ...]

PRESET is a preset file (.yaml, .yml, .json) or the name of a factory preset (``bass``). Mistakes a user
can make (a missing or invalid file, a bad option value: a :class:`~studio.errors.StudioError`) end with one
line ``error: …`` on stderr and exit status 1 (2 for usage errors), never a traceback. Anything else is a bug
of the studio: its traceback is logged to stderr, then one line ``error: internal error: …`` and status 1.
Heavy modules (JAX, the synth) are imported inside the commands, so ``--help`` answers at once.

Option values are checked by :mod:`studio.checks` (the rules the UI uses too); names of strategies, budgets
and scorers come from the modules that define them.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from studio import checks
from studio.errors import INTERNAL_ERROR_MESSAGE, SettingsError, StudioError

EXIT_ERROR = 1
EXIT_USAGE = 2
MAX_RESTARTS = 16  # --restarts of prompt and match, --keep of match
MAX_COUNT = 64  # vary --count, morph --steps
MAX_CLAP_WEIGHT = 10.0

log = logging.getLogger("studio.cli")


class _Parser(argparse.ArgumentParser):
    """argparse prints the whole usage before its error message; the studio prints one line."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


def _checked(check, *args):
    """An argparse ``type=`` from a :mod:`studio.checks` validator: ``check(text, *args)``, its
    SettingsError becoming argparse's usage error (exit status 2)."""

    def parse(text: str):
        try:
            return check(text, *args)
        except SettingsError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = getattr(check, "__name__", "value")  # argparse names the type in some messages
    return parse


class _Names(Sequence):
    """Names from the module that defines them (strategies, budgets, scorer kinds, strip modes), for
    ``choices=``: imported when argparse first looks at them, so ``--help`` does not import JAX."""

    def __init__(self, load):
        self._load, self._names = load, None

    def _get(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(self._load())
        return self._names

    def __getitem__(self, index):
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())


def _search_names() -> dict[str, tuple[str, ...]]:
    """The search engine's strategy and budget names."""
    from studio.search import BUDGET_NAMES, STRATEGIES

    return {"strategies": tuple(STRATEGIES), "budgets": BUDGET_NAMES}


def _scorer_kinds():
    from studio.scoring import SCORER_KINDS

    return SCORER_KINDS


def _strip_modes():
    from studio.explore import MODES

    return MODES


def _duration(text: str) -> float:
    from studio.synth.voice import MAX_DURATION

    return checks.check_number(text, 0.05, MAX_DURATION, "duration", "s")


def _sample_rate(text: str) -> int:
    from studio.synth.voice import MAX_SAMPLE_RATE

    return checks.check_whole(text, 8_000, MAX_SAMPLE_RATE, "sample_rate")


def _tail(text: str) -> float:
    from studio.instrument.midi import MAX_TAIL

    return checks.check_number(text, 0.0, MAX_TAIL, "--tail", "s")


def _key(text: str, field: str) -> int:
    from studio.instrument.sampler import key_note

    return key_note(text, field)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: one sub-command per job."""
    strategies = _Names(lambda: _search_names()["strategies"])
    budgets = _Names(lambda: _search_names()["budgets"])
    scorer_kinds = _Names(_scorer_kinds)
    seed = _checked(checks.check_seed, "seed")
    seconds = _checked(_duration)
    sample_rate = _checked(_sample_rate)
    restarts = _checked(checks.check_whole, 1, MAX_RESTARTS, "restarts")
    parser = _Parser(prog="python -m studio", description="The synth sketch studio from a shell.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    render = commands.add_parser("render", help="render a preset to a WAV file",
                                 description="Render a preset file or a factory preset to a WAV file.")
    render.add_argument("preset", metavar="PRESET", help="a preset file (.yaml, .yml, .json) or a factory preset name")
    render.add_argument("-o", "--output", metavar="OUT.wav", type=Path,
                        help="where to write the WAV (default: PRESET's name or file stem + .wav, here)")
    render.add_argument("--sample-rate", metavar="HZ", type=sample_rate, help="override the preset's sample rate")
    render.add_argument("--duration", metavar="S", type=seconds, help="override the preset's duration in seconds")
    render.add_argument("--seed", metavar="N", type=seed, help="override the preset's noise seed")
    render.add_argument("--float", action="store_true", help="write 32-bit float samples instead of 16-bit PCM")
    render.set_defaults(run=cmd_render)

    prompt = commands.add_parser(
        "prompt", help="search the synth for a sound that fits a text prompt",
        description="Search the synth's 78 knobs for a sound that fits a text prompt (CTAG: an evolution strategy "
                    "judged by LAION-CLAP, or offline by measured descriptors), then write the WAV and its preset.")
    prompt.add_argument("text", metavar="PROMPT", help='what the sound should be, e.g. "bees buzzing"')
    prompt.add_argument("-o", "--output", metavar="OUT.wav", type=Path,
                        help="where to write the WAV; the preset goes next to it as OUT.yaml (default: the prompt's "
                             "words + .wav, here)")
    prompt.add_argument("--budget", choices=budgets, default="quick",
                        help="how long to search: quick (about a second with descriptors), standard, or paper (CTAG: "
                             "population 50, 300 generations) (default: quick)")
    prompt.add_argument("--scorer", choices=scorer_kinds, default="auto",
                        help="who judges: clap, descriptors (offline), or auto: CLAP when its weights load "
                             "(default: auto)")
    prompt.add_argument("--clap-model", metavar="ID_OR_DIR",
                        help="CLAP weights: a Hugging Face id or a local folder (default: $SYNTH_STUDIO_CLAP, else "
                             "laion/clap-htsat-unfused)")
    prompt.add_argument("--strategy", choices=strategies,
                        help="evolution strategy (default: learned_es)")
    prompt.add_argument("--seed", metavar="N", type=seed, default=0,
                        help="seed of every random choice of the search (default: 0)")
    prompt.add_argument("--restarts", metavar="N", type=restarts, default=1,
                        help=f"independent searches with seeds N, N+1, …; each result is written, 1 to {MAX_RESTARTS} "
                             "(default: 1)")
    prompt.add_argument("--pitch", metavar="NOTE", help="hard target: pitch as a note name (C3, F#2, Bb4) or Hz")
    prompt.add_argument("--length", metavar="S", type=_checked(checks.check_number, 0.0, math.inf, "length", "s"),
                        help="hard target: audible length in seconds")
    prompt.add_argument("--brightness", metavar="HZ", type=float, help="hard target: spectral centroid in Hz")
    prompt.add_argument("--noisiness", metavar="X", type=float, help="hard target: spectral flatness, 0 to 0.6")
    prompt.add_argument("--duration", metavar="S", type=seconds, help="render length in seconds (default: 2)")
    prompt.add_argument("--sample-rate", metavar="HZ", type=sample_rate, help="render rate (default: 48000)")
    prompt.add_argument("--lock", metavar="GROUP", nargs="+", action="extend", default=[],
                        help="knobs the search leaves alone, keeping the --from preset's values (else the default "
                             "sound's): pitch, note_length, a module (adsr_1, mixer, …) or a module.parameter key; "
                             "repeat it or give a comma list (put PROMPT first)")
    prompt.add_argument("--from", dest="from_preset", metavar="PRESET",
                        help="a preset file or factory preset whose values the locked knobs keep and whose render "
                             "settings the search uses (--duration and --sample-rate still override them)")
    prompt.set_defaults(run=cmd_prompt)

    match = commands.add_parser(
        "match", help="search the synth for a preset that sounds like a recording",
        description="Search the synth's 78 knobs for a preset that reproduces a target sound (WAV, FLAC, OGG/Vorbis, "
                    "AIFF): an evolution strategy on a perceptual loss, started from the target's pitch and note "
                    "length. Writes the preset and its WAV; with several restarts, the best distinct matches.")
    match.add_argument("target", metavar="TARGET", help="the sound to match: an audio file libsndfile reads")
    match.add_argument("-o", "--output", metavar="OUT.yaml", type=Path,
                       help="where to write the preset; the WAV goes next to it as OUT.wav (default: TARGET's stem + "
                            "-match.yaml, here)")
    match.add_argument("--budget", choices=budgets, default="quick",
                       help="how long to search: quick (3,712 renders: seconds), standard (14,464) or paper "
                            "(40,448) (default: quick)")
    match.add_argument("--seed", metavar="N", type=seed, default=0,
                       help="seed of every random choice; restart r uses N + r (default: 0)")
    match.add_argument("--restarts", metavar="N", type=restarts, help="restarts (default: the budget's)")
    match.add_argument("--keep", metavar="N", type=_checked(checks.check_whole, 1, MAX_RESTARTS, "keep"), default=1,
                       help="distinct matches to write: OUT.yaml, OUT-2.yaml, … (default: 1)")
    match.add_argument("--strategy", choices=strategies,
                       help="evolution strategy (default: the budget's)")
    match.add_argument("--lock-pitch", action="store_true", help="hold the pitch at the target's measured pitch")
    match.add_argument("--lock-length", action="store_true",
                       help="hold the note length at the target's measured one")
    match.add_argument("--duration", metavar="S", type=seconds, default=2.0,
                       help="the synth's buffer in seconds; a longer target is cut (default: 2)")
    match.add_argument("--clap-weight", metavar="W", default=0.0,
                       type=_checked(checks.check_number, 0.0, MAX_CLAP_WEIGHT, "clap_weight"),
                       help="add W × (1 − CLAP audio cosine) to the loss (needs CLAP weights; slow on a CPU)")
    match.add_argument("--clap-model", metavar="ID_OR_DIR",
                       help="CLAP weights for --clap-weight "
                            "(default: $SYNTH_STUDIO_CLAP, else laion/clap-htsat-unfused)")
    match.add_argument("--learned", choices=("auto", "off"), default="auto",
                       help="start from the inverse model's guess and proxy-screened candidates when the learned "
                            "models are present (auto, the default) or never (off)")
    match.set_defaults(run=cmd_match)

    presets = commands.add_parser("presets", help="list the factory presets", description="List the factory presets.")
    presets.set_defaults(run=cmd_presets)

    vary = commands.add_parser("vary", help="write doppelgängers (variations) of a preset",
                               description="Write variations θ' = clip(θ + δ·z, 0, 1) of a preset (audio "
                                           "doppelgängers): a preset file and a WAV for each, plus their distance "
                                           "to the original.")
    vary.add_argument("preset", metavar="PRESET", help="a preset file (.yaml, .yml, .json) or a factory preset name")
    vary.add_argument("-o", "--output", metavar="DIR", type=Path, required=True,
                      help="folder for the variations (created if missing)")
    vary.add_argument("--delta", metavar="δ", type=_checked(checks.check_number, 0.0, 1.0, "delta"), default=0.25,
                      help="step size in normalized units, 0 to 1 (default 0.25)")
    vary.add_argument("--count", metavar="N", type=_checked(checks.check_whole, 1, MAX_COUNT, "count"), default=8,
                      help=f"variations, 1 to {MAX_COUNT} (default 8)")
    vary.add_argument("--seed", metavar="N", type=seed, default=0, help="picks the variations (default 0)")
    vary.add_argument("--lock", metavar="GROUP", nargs="+", action="extend", default=[],
                      help="keep these unchanged: pitch, note_length, a module (adsr_1, mixer, …) or a "
                           "module.parameter key")
    vary.set_defaults(run=cmd_vary)

    morph = commands.add_parser("morph", help="write an interpolation strip between two presets",
                                description="Write the steps of a strip from preset A to preset B (A's render "
                                            "settings): a preset file and a WAV for each step.")
    morph.add_argument("preset_a", metavar="A", help="the first preset (file or factory name)")
    morph.add_argument("preset_b", metavar="B", help="the last preset (file or factory name)")
    morph.add_argument("-o", "--output", metavar="DIR", type=Path, required=True,
                       help="folder for the steps (created if missing)")
    morph.add_argument("--steps", metavar="N", type=_checked(checks.check_whole, 2, MAX_COUNT, "steps"), default=5,
                       help=f"steps including A and B, 2 to {MAX_COUNT} (default 5)")
    morph.add_argument("--mode", choices=_Names(_strip_modes), default="linear",
                       help="linear: equal steps in the knobs; even: equal perceptual steps (default linear)")
    morph.add_argument("--lock", metavar="GROUP", nargs="+", action="extend", default=[],
                       help="hold these at A's values along the strip (as for vary)")
    morph.set_defaults(run=cmd_morph)

    play = commands.add_parser(
        "play", help="render a MIDI file through a preset",
        description="Render every note of a MIDI file (.mid, type 0 or 1) through a preset: each at its pitch, held "
                    "for its own length (at most 4 s, the synth's longest note-on) with the release tail after it, "
                    "velocity as gain, tempo changes honoured; mixed and normalized to -1 dBFS.")
    play.add_argument("preset", metavar="PRESET", help="a preset file (.yaml, .yml, .json) or a factory preset name")
    play.add_argument("song", metavar="SONG.mid", type=Path, help="a Standard MIDI File")
    play.add_argument("-o", "--output", metavar="OUT.wav", type=Path,
                      help="where to write the WAV (default: SONG's stem + .wav, here)")
    play.add_argument("--sample-rate", metavar="HZ", type=sample_rate, help="override the preset's sample rate")
    play.add_argument("--tail", metavar="S", type=_checked(_tail),
                      help="seconds each note rings after its note-off (default: the preset's longest release)")
    play.add_argument("--float", action="store_true", help="write 32-bit float samples instead of 16-bit PCM")
    play.set_defaults(run=cmd_play)

    instrument = commands.add_parser(
        "export-instrument", help="export a preset as a multi-sample instrument (SFZ, DecentSampler)",
        description="Render a preset every N semitones across a key range, trim each sample to its audible end with "
                    "a short fade, write WAVs with their root note (smpl chunk), an SFZ file and/or a DecentSampler "
                    ".dspreset, and zip them with the preset.")
    instrument.add_argument("preset", metavar="PRESET",
                            help="a preset file (.yaml, .yml, .json) or a factory preset name")
    instrument.add_argument("-o", "--output", metavar="OUT.zip", type=Path,
                            help="where to write the zip (default: PRESET's name or file stem + .zip, here)")
    instrument.add_argument("--format", choices=("sfz", "dspreset", "both"), default="both",
                            help="the sampler file(s) to write (default: both)")
    instrument.add_argument("--every", metavar="N", type=_checked(checks.check_whole, 1, 12, "--every"), default=3,
                            help="semitones between samples, 1 to 12 (default: 3)")
    instrument.add_argument("--low", metavar="NOTE", type=_checked(_key, "--low"), default=36,
                            help="lowest sampled note, a name (C2) or MIDI number (default: C2 = 36)")
    instrument.add_argument("--high", metavar="NOTE", type=_checked(_key, "--high"), default=96,
                            help="highest sampled note (default: C7 = 96)")
    instrument.add_argument("--sample-rate", metavar="HZ", type=sample_rate, help="override the preset's sample rate")
    instrument.add_argument("--bits", type=int, choices=(16, 24), default=24, help="bits per sample (default: 24)")
    instrument.set_defaults(run=cmd_export_instrument)

    from studio.data.cli import add_parser as add_dataset_parser  # python -m studio dataset: studio/data/cli.py

    add_dataset_parser(commands)

    from studio.explore import cli_edits

    cli_edits.add_parser(commands)  # macro and edit (issue 17)

    info = commands.add_parser("info", help="versions, JAX backend and devices",
                               description="Show the studio's version and its environment.")
    info.set_defaults(run=cmd_info)

    from studio.learn import cli as learn_cli  # train the learned models (studio/learn)

    learn_cli.add_parser(commands)
    return parser


def _check_settings(settings, options: dict[str, str]):
    """``settings`` when usable (:func:`studio.checks.check_render_settings`), else a StudioError naming the
    option the user typed (``options``: setting → option) rather than the field behind it."""
    try:
        return checks.check_render_settings(settings)
    except SettingsError as err:
        option = options.get(err.field)
        raise SettingsError(f"{option}: {err}" if option else str(err), option or err.field) from None


def _check_output_folder(output: Path) -> None:
    if output.parent and not output.parent.is_dir():
        raise StudioError(f"cannot write {output}: folder {output.parent} does not exist", "output")


def _load(spec: str):
    """(preset, default output stem) from a preset file path, or else a factory preset name."""
    from studio.presets import SUFFIX_FORMATS, factory_preset, load_preset

    path = Path(spec)
    if path.suffix.lower() in SUFFIX_FORMATS or path.exists() or "/" in spec:
        return load_preset(path), path.stem  # the file's stem: a preset's name may hold '/' or spaces
    return factory_preset(spec), spec


def cmd_render(args) -> int:
    """Render PRESET (with any overrides) to a WAV file and print one summary line."""
    import dataclasses

    import numpy as np

    preset, stem = _load(args.preset)
    overrides = {k: v for k, v in (("sample_rate", args.sample_rate), ("duration", args.duration),
                                   ("noise_seed", args.seed)) if v is not None}
    settings = _check_settings(dataclasses.replace(preset.settings, **overrides),
                               {"sample_rate": "--sample-rate", "duration": "--duration", "noise_seed": "--seed"})
    output = args.output or Path(f"{stem}.wav")
    _check_output_folder(output)

    from studio.audio.io import write_wav
    from studio.synth import render

    audio = np.asarray(render(preset.theta, settings))
    write_wav(output, audio, settings.sample_rate, subtype="FLOAT" if args.float else "PCM_16")
    peak = float(np.max(np.abs(audio)))
    peak_text = f"{20 * np.log10(peak):.1f} dBFS" if peak > 0 else "silent"
    print(f"wrote {output}: {preset.name}, {audio.size / settings.sample_rate:.2f} s at {settings.sample_rate} Hz, "
          f"peak {peak_text}")
    return 0


def cmd_prompt(args) -> int:
    """Search for a sound that fits the prompt; write the best as WAV + preset YAML; report what happened."""
    import dataclasses

    from studio.library import file_stem
    from studio.scoring import Constraints, make_scorer
    from studio.scoring.descriptors import explain
    from studio.search import PromptObjective
    from studio.synth import RenderSettings

    output = args.output or Path(f"{file_stem(args.text, 'prompt')}.wav")
    if output.suffix.lower() != ".wav":
        raise StudioError(f"the output {output} must end in .wav (the preset is written next to it as .yaml)",
                          "output")
    _check_output_folder(output)
    overrides = {k: v for k, v in (("sample_rate", args.sample_rate), ("duration", args.duration)) if v is not None}
    start = _load(args.from_preset)[0] if args.from_preset else None  # what the locked knobs keep
    settings = _check_settings(dataclasses.replace(start.settings if start else RenderSettings(), **overrides),
                               {"sample_rate": "--sample-rate", "duration": "--duration"})
    constraints = Constraints.from_user(args.pitch, args.length, args.brightness, args.noisiness, settings.duration)
    mask = _lock_mask([name.strip() for arg in args.lock for name in arg.split(",") if name.strip()])
    if mask.all():
        raise StudioError("--lock: every knob is locked; leave at least one free to search", "lock")

    from studio.scoring import ScorerUnavailable

    try:
        scorer = make_scorer(args.scorer, clap_model=args.clap_model)
    except ScorerUnavailable as err:
        raise ScorerUnavailable(f"--scorer clap: {err}", "--scorer") from None
    objective = PromptObjective(scorer, args.text, settings, constraints)
    print(f"scorer: {scorer.label} — {scorer.reason}")
    if scorer.explains_prompt:
        print(f"understood: {scorer.explain(args.text, settings.duration)}")
    else:  # the descriptor scorer's reading still tells the user which words carry measurable qualities
        print(f"descriptor reading (for reference; {scorer.label} judges the text itself): "
              f"{explain(args.text, settings.duration)}")
    if constraints.active:
        overridden = " (they replace the prompt's targets on those descriptors)" if scorer.explains_prompt else ""
        print(f"constraints: {constraints.describe()}{overridden}")
    if mask.any():
        from studio.explore import describe_locks

        print(f"locked: {describe_locks(mask)} (kept from {start.name if start else 'the default sound'})")

    from studio.search import (STRATEGY_LABELS, SearchResult, budget_for, proxy_screened, search,
                               use_compilation_cache)
    from studio.search.engine import run_seed
    from studio.synth import default_theta
    from studio.synth.cpu import tune_cpu

    tune_cpu()  # a no-op after `python -m studio` did it
    use_compilation_cache()  # a second run in a new process compiles far less
    budget = budget_for(args.budget, scorer, constraints.active)
    strategy = args.strategy or budget.strategy
    searched, budget, note = proxy_screened(objective, budget)  # CLAP: generations on its proxy, where one is trained
    if note:
        print(note)
    print(f"searching: {STRATEGY_LABELS[strategy]}, {budget.name} budget ({budget.population} × "
          f"{budget.generations} per restart, {args.restarts} restart{'s' if args.restarts > 1 else ''}), "
          f"seed {args.seed}", flush=True)
    final, last_report, interrupted = None, 0.0, False
    try:
        base = start.theta if start else default_theta()
        for final in search(searched, budget=budget, strategy=strategy, seed=args.seed, restarts=args.restarts,
                            locked=mask, theta=base):
            if not final.done and (final.elapsed_s - last_report >= 2.0 or final.generation == final.generations):
                last_report = final.elapsed_s
                print(f"  restart {final.restart + 1}/{final.restarts}, generation {final.generation}/"
                      f"{final.generations}: best score {final.best_score:.3f} ({final.elapsed_s:.1f} s)", flush=True)
    except KeyboardInterrupt:  # Ctrl-C: keep what was found so far
        interrupted = True
    if final is None:
        raise StudioError("the search stopped before its first generation: nothing to write")
    results = list(final.results)
    if interrupted and not final.done:  # the running restart's best so far joins the finished ones
        results.append(SearchResult(final.best_theta, final.best_score, final.best_fitness, final.best_penalty,
                                    run_seed(args.seed, final.restart), final.restart, final.generation,
                                    final.generation * budget.population))
        results.sort(key=lambda r: r.fitness)
    _write_prompt_results(results, objective, strategy, budget.name, output, final.elapsed_s)
    if interrupted:
        print("stopped early: wrote the best sound found so far")
    return 0


def _write_prompt_results(results, objective, strategy: str, budget: str, output: Path, elapsed_s: float) -> None:
    """Write each result (best first: OUT.wav, OUT-2.wav, …) with its preset; print a line each."""
    import numpy as np

    from studio.audio.io import write_wav
    from studio.audio.sound_profile import sound_profile
    from studio.presets import save_preset
    from studio.search import to_preset
    from studio.synth import render

    settings = objective.settings
    for rank, result in enumerate(results, start=1):
        stem = output.stem if rank == 1 else f"{output.stem}-{rank}"
        wav, yaml_path = output.with_name(f"{stem}.wav"), output.with_name(f"{stem}.yaml")
        name = objective.prompt if rank == 1 else f"{objective.prompt} #{rank}"
        preset = to_preset(result, objective, strategy=strategy, budget=budget, name=name)
        audio = np.asarray(render(preset.theta, settings))
        write_wav(wav, audio, settings.sample_rate)
        save_preset(preset, yaml_path)
        print(f"wrote {wav} and {yaml_path}: score {result.score:.3f} (seed {result.seed}, "
              f"{result.evaluations} candidates, {elapsed_s:.1f} s)")
        if objective.constraints.active:
            outcomes = objective.constraints.check(sound_profile(audio, settings.sample_rate))
            print("  " + "; ".join(c.text for c in outcomes))


def cmd_match(args) -> int:
    """Match TARGET: print what was read and estimated, stream progress, write the best matches (preset + WAV)."""
    from studio.audio.target import load_target
    from studio.library import file_stem
    from studio.synth import RenderSettings

    output = args.output or Path(f"{file_stem(Path(args.target).stem, 'sound')}-match.yaml")
    if output.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise StudioError(f"the output {output} must end in .yaml, .yml or .json (the WAV is written next to it)",
                          "output")
    _check_output_folder(output)
    settings = _check_settings(RenderSettings(duration=args.duration), {"duration": "--duration"})
    target = load_target(args.target, settings.sample_rate, settings.duration)
    print(f"target: {target.describe()}")

    from studio.search import STRATEGY_LABELS, use_compilation_cache
    from studio.search.match import LossWeights, estimate_start, match_plan, match_sound, resolve_learned
    from studio.synth.cpu import tune_cpu

    clap = None
    if args.clap_weight > 0:
        from studio.scoring import ScorerUnavailable, make_scorer

        try:
            clap = make_scorer("clap", clap_model=args.clap_model)
        except ScorerUnavailable as err:
            raise ScorerUnavailable(f"--clap-weight: {err}", "--clap-weight") from None
        print(f"CLAP: {clap.reason}")
    tune_cpu()
    use_compilation_cache()
    guess = estimate_start(target.audio, target.sample_rate)
    locks = [name for name, on in (("pitch", args.lock_pitch), ("note length", args.lock_length)) if on]
    print(f"start: {guess.describe()}" + (f" (locked: {', '.join(locks)})" if locks else ""))
    plan = match_plan(args.budget, clap is not None, args.restarts)
    strategy = args.strategy or plan.budget.strategy
    learned, learned_note = resolve_learned(args.learned, settings)
    polish = f", then {plan.polish} generations polishing the best" if plan.polish else ""
    screened = "random candidates" if learned is None else "candidates (the inverse model's guesses, proxy's picks)"
    print(f"searching: {plan.screen} {screened}, then {STRATEGY_LABELS[strategy]} from the best "
          f"{plan.restarts} ({plan.budget.population} × {plan.budget.generations} each){polish}; "
          f"{plan.budget.name} budget, {plan.evaluations} renders, seed {args.seed}")
    print(learned_note, flush=True)
    progress = match_sound(target, settings=settings, budget=plan, strategy=strategy, seed=args.seed,
                           lock_pitch=args.lock_pitch, lock_length=args.lock_length,
                           keep=args.keep, weights=LossWeights(clap=args.clap_weight), clap=clap, guess=guess,
                           learned=learned or "off")
    final, last_report, interrupted = None, 0.0, False
    try:
        for final in progress:
            end_of_restart = final.phase != "screen" and final.generation == final.generations
            if not final.done and (final.elapsed_s - last_report >= 2.0 or end_of_restart):
                last_report = final.elapsed_s
                where = {"screen": "screening", "polish": f"polishing the best, generation {final.generation}/"
                                                          f"{final.generations}"}.get(final.phase) or (
                    f"restart {final.restart + 1}/{final.restarts}, generation {final.generation}/{final.generations}")
                print(f"  {where}: best loss {final.best_loss:.3f} after {final.evaluations} renders "
                      f"({final.elapsed_s:.1f} s)", flush=True)
    except KeyboardInterrupt:  # Ctrl-C: keep what was found so far
        interrupted = True
    if final is None:
        raise StudioError("the match stopped before its first generation: nothing to write")
    _write_matches(final, target, settings, plan.budget.name, strategy, output, args.seed)
    if interrupted or final.cancelled:
        print("stopped early: wrote the best match found so far")
    return 0


def _write_matches(final, target, settings, budget: str, strategy: str, output: Path, seed: int) -> None:
    """Write each match (best first: OUT.yaml + OUT.wav, OUT-2.yaml + OUT-2.wav, …); print a line each."""
    import numpy as np

    from studio.search.engine import run_seed
    from studio.search.match import MatchResult, spectral_convergence, to_preset
    from studio.synth import render

    # Stopped early, the best so far (over every restart) is the one match to write.
    results = list(final.results) if final.done else [
        MatchResult(final.best_theta, final.best_loss, run_seed(seed, final.best_restart), final.best_restart,
                    final.evaluations)]
    for rank, result in enumerate(results, start=1):
        stem = output.stem if rank == 1 else f"{output.stem}-{rank}"
        name = None if rank == 1 else f"match {Path(target.source).stem} #{rank}"
        preset = to_preset(result, target, settings, budget=budget, strategy=strategy, name=name)
        audio = np.asarray(render(preset.theta, settings))
        preset_path, wav_path = _write_sound(output.parent, stem, preset, audio)
        if output.suffix.lower() != ".yaml":  # _write_sound writes .yaml: honour the suffix asked for
            from studio.presets import save_preset

            preset_path.unlink()
            preset_path = save_preset(preset, output.with_name(stem + output.suffix))
        print(f"wrote {preset_path} and {wav_path}: loss {result.loss:.3f}, spectral convergence "
              f"{spectral_convergence(target.audio, audio):.3f} (seed {result.seed}, {result.evaluations} renders, "
              f"{final.elapsed_s:.1f} s)")


def _output_folder(path: Path) -> Path:
    """Create the output folder (and parents) unless it exists; a file in the way is a user error."""
    if path.exists() and not path.is_dir():
        raise StudioError(f"cannot write into {path}: it is a file, not a folder", "output")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lock_mask(names):
    from studio.explore import lock_mask

    try:
        return lock_mask(names or None)
    except SettingsError as err:
        raise SettingsError(f"--lock: {err}", "--lock") from None


def _write_sound(folder: Path, stem: str, preset, audio) -> tuple[Path, Path]:
    """Write ``stem.yaml`` (the preset) and ``stem.wav`` (16-bit) into ``folder``; return both paths."""
    from studio.audio.io import write_wav
    from studio.presets import save_preset

    preset_path = save_preset(preset, folder / f"{stem}.yaml")
    wav_path = write_wav(folder / f"{stem}.wav", audio, preset.settings.sample_rate)
    return preset_path, wav_path


def cmd_vary(args) -> int:
    """Write ``--count`` doppelgängers of PRESET into DIR and print each one's distance to the original."""
    from studio.audio.embedding import perceptual_similarity
    from studio.explore import describe_locks, variations_of
    from studio.library import file_stem

    preset, stem = _load(args.preset)
    mask = _lock_mask(args.lock)
    folder = _output_folder(args.output)
    found = variations_of(preset, args.delta, args.count, args.seed, mask)
    print(f"{args.count} doppelgängers of {preset.name}: δ {args.delta:g}, seed {args.seed}, "
          f"locked: {describe_locks(mask)}")
    for i, (variant, audio, distance) in enumerate(zip(found.presets, found.audio, found.distances), start=1):
        name = f"{file_stem(stem, 'sound')}-d{args.delta:g}-seed{args.seed}-{i:02d}"
        preset_path, _ = _write_sound(folder, name, variant, audio)
        similarity = float(perceptual_similarity(distance))
        print(f"  {preset_path} + .wav  distance {distance:.3f}  similarity {similarity:.2f}")
    return 0


def cmd_morph(args) -> int:
    """Write the steps of a strip from A to B into DIR and print each step's distance to the previous one."""
    from studio.explore import describe_locks, strip_between
    from studio.library import file_stem

    preset_a, stem_a = _load(args.preset_a)
    preset_b, stem_b = _load(args.preset_b)
    mask = _lock_mask(args.lock)
    folder = _output_folder(args.output)
    settings = preset_a.settings
    strip, steps = strip_between(preset_a, preset_b, args.steps, args.mode, mask)
    if settings != preset_b.settings:
        print(f"note: rendering every step with {preset_a.name}'s settings ({settings.sample_rate} Hz, "
              f"{settings.duration:g} s, noise seed {settings.noise_seed})")
    print(f"{args.steps}-step {args.mode} strip from {preset_a.name} to {preset_b.name} "
          f"(locked: {describe_locks(mask)}); distance from A to B {strip.endpoint_distance:.3f}")
    for j, (step, audio) in enumerate(zip(steps, strip.audio), start=1):
        name = (f"{file_stem(stem_a, 'sound')}-to-{file_stem(stem_b, 'sound')}-{args.mode}-{j:02d}-of-"
                f"{args.steps:02d}")
        preset_path, _ = _write_sound(folder, name, step, audio)
        gap = "" if j == 1 else f"  distance to step {j - 1}: {strip.step_distances[j - 2]:.3f}"
        print(f"  {preset_path} + .wav  t {strip.positions[j - 1]:.3f}{gap}")
    return 0


def cmd_play(args) -> int:
    """Render SONG.mid through PRESET to a WAV file and print one summary line."""
    import dataclasses

    preset, _ = _load(args.preset)
    output = args.output or Path(f"{args.song.stem}.wav")
    _check_output_folder(output)
    if args.sample_rate is not None:
        _check_settings(dataclasses.replace(preset.settings, sample_rate=args.sample_rate),
                        {"sample_rate": "--sample-rate"})

    from studio.audio.io import write_wav
    from studio.instrument.midi import play_midi
    from studio.search.engine import use_compilation_cache

    use_compilation_cache()  # the buffer lengths a song uses compile once, not once per run
    song = play_midi(preset, args.song, sample_rate=args.sample_rate, tail=args.tail)
    write_wav(output, song.audio, song.sample_rate, subtype="FLOAT" if args.float else "PCM_16")
    print(f"wrote {output}: {args.song.name} through {preset.name}: {song.describe()}")
    return 0


def cmd_export_instrument(args) -> int:
    """Write PRESET as a zipped multi-sample instrument and print what it holds."""
    import dataclasses

    preset, stem = _load(args.preset)
    output = args.output or Path(f"{stem}.zip")
    if output.suffix.lower() != ".zip":
        raise StudioError(f"the output {output} must end in .zip", "output")
    _check_output_folder(output)
    if args.sample_rate is not None:
        _check_settings(dataclasses.replace(preset.settings, sample_rate=args.sample_rate),
                        {"sample_rate": "--sample-rate"})
    if args.low > args.high:
        raise SettingsError(f"--low ({checks.note_name(args.low)}) must not be above --high "
                            f"({checks.note_name(args.high)})", "--low")

    from studio.instrument.sampler import export_instrument

    made = export_instrument(preset, output, fmt=args.format, every=args.every, low=args.low, high=args.high,
                             sample_rate=args.sample_rate, bits=args.bits)
    print(f"wrote {output}: {made.describe()}")
    return 0


def cmd_presets(args) -> int:
    """List the factory presets: name, tags and description."""
    from studio.presets import factory_presets

    presets = factory_presets()
    width = max(len(p.name) for p in presets)
    for p in presets:
        print(f"{p.name:<{width}}  [{', '.join(p.tags)}]" + (f"  {p.description}" if p.description else ""))
    return 0


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def cmd_info(args) -> int:
    """Print versions and the JAX backend, one ``name: value`` per line."""
    import platform

    import studio

    lines = [("studio", studio.__version__), ("python", f"{platform.python_version()} ({sys.executable})"),
             ("platform", platform.platform())]
    import jax
    import numpy

    devices = ", ".join(f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices())
    lines += [("jax", jax.__version__), ("jaxlib", _version("jaxlib")), ("jax backend", jax.default_backend()),
              ("jax devices", devices), ("numpy", numpy.__version__)]
    lines += [(name, _version(name)) for name in ("soundfile", "PyYAML", "scipy", "evosax", "gradio", "matplotlib",
                                                  "torch", "transformers", "umap-learn")]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key + ':':<{width + 1}} {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (the ``synth-studio`` script and ``python -m studio``)."""
    from studio.synth.cpu import tune_cpu

    tune_cpu()  # first thing: XLA reads its flags once, before any computation
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except StudioError as err:  # a mistake the user can fix: its message says what and how
        return _fail(str(err))
    except BrokenPipeError:  # the reader went away (`… | head`): stop quietly, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:  # the file system's answer (no permission, disk full): the user's to fix
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        return _fail(f"cannot access{where}: {err.strerror or err}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as err:  # anything else is a bug of the studio: keep its traceback, say so in one line
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        log.exception("internal error in %r", args.command)
        internal = INTERNAL_ERROR_MESSAGE[:1].lower() + INTERNAL_ERROR_MESSAGE[1:]
        return _fail(f"{internal} ({type(err).__name__}: {err})")


def _fail(message: str) -> int:
    first_line = " ".join(message.split())  # one line, even if a message had several
    print(f"error: {first_line}", file=sys.stderr)
    return EXIT_ERROR
