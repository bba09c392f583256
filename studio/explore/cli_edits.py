"""``python -m studio macro`` and ``python -m studio edit``: macro knobs and edits in words from a shell.

    python -m studio macro PRESET --brightness +50% --length 0.3 -o OUT.yaml [--lock GROUP ...] [--seed N]
    python -m studio edit PRESET "brighter, shorter" -o OUT.yaml [--lock GROUP ...] [--seed N]
                          [--scorer auto|clap|descriptors] [--clap-model ID_OR_DIR]

Both write OUT.yaml (the edited preset) and OUT.wav next to it, and print what moved: each named quality before →
after (measured on the rendered sounds), what could not move and why. Macro values: a number is absolute, in the
macro's unit (``--length 0.3`` s, ``--brightness 2000`` Hz, ``--pitch C5`` or ``--pitch 72``); ``+50%``/``-20%``
and ``x1.5`` are relative to the sound's measured value, and a signed number is a step (``--pitch -12``: an octave
down). Unknown edit words end with ``error: not understood: …`` and nothing is written. This module only adds the
two sub-commands to :mod:`studio.cli` (``add_parser``) and runs them.
"""
from __future__ import annotations

import re
from pathlib import Path

MACRO_OPTIONS = ("pitch", "brightness", "noisiness", "attack", "decay", "length", "vibrato_depth", "vibrato_rate",
                 "tremolo_depth", "tremolo_rate", "richness")  # studio.explore.macros.MACRO_NAMES, without JAX


def add_parser(commands) -> None:
    """Add ``macro`` and ``edit`` to the CLI's sub-command parsers."""
    from studio import checks
    from studio.cli import _checked

    seed = _checked(checks.check_seed, "seed")
    macro = commands.add_parser(
        "macro", help="move named qualities of a preset (brightness, length, pitch, …) and keep the others",
        description="Move named qualities of a preset to new values, measured on the rendered sound, while every "
                    "other quality stays as it is (within the synth's reach); writes the result as a preset and a WAV.")
    macro.add_argument("preset", metavar="PRESET", help="a preset file (.yaml, .yml, .json) or a factory preset name")
    for name in MACRO_OPTIONS:
        macro.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="VALUE",
                           help=_macro_help(name))
    macro.add_argument("-o", "--output", metavar="OUT.yaml", type=Path,
                       help="where to write the preset (and OUT.wav beside it; default: PRESET-macro.yaml here)")
    macro.add_argument("--lock", metavar="GROUP", nargs="+", action="extend", default=[],
                       help="keep these knobs as they are: pitch, note_length, a module (adsr_1, mixer, …) or a key")
    macro.add_argument("--seed", metavar="N", type=seed, default=0, help="seed of the refinement (default 0)")
    # "--brightness -30%" is a value, not an option: argparse takes only plain negative numbers as values.
    macro._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)%?$")
    macro._has_negative_number_optionals = []
    macro.set_defaults(run=run)

    edit = commands.add_parser(
        "edit", help='edit a preset in words ("brighter, shorter", "an octave lower", "more like a bell")',
        description="Apply an edit in words to a preset: relative words move measured qualities from the sound's own "
                    "values (brighter = brightness x1.5; slightly halves the step, much doubles it), sound words "
                    "set targets as in a prompt, and the result stays within the perceptual distance of a small "
                    "(δ = 0.1) variation unless the words ask for more.")
    edit.add_argument("preset", metavar="PRESET", help="a preset file (.yaml, .yml, .json) or a factory preset name")
    edit.add_argument("text", metavar="EDIT", help='the edit, e.g. "brighter, shorter" or "slightly darker"')
    edit.add_argument("-o", "--output", metavar="OUT.yaml", type=Path,
                      help="where to write the preset (and OUT.wav beside it; default: PRESET-edit.yaml here)")
    edit.add_argument("--lock", metavar="GROUP", nargs="+", action="extend", default=[],
                      help="keep these knobs as they are (as for macro)")
    edit.add_argument("--seed", metavar="N", type=seed, default=0, help="seed of the refinement (default 0)")
    edit.add_argument("--scorer", choices=("auto", "clap", "descriptors"), default="descriptors",
                      help="descriptors (default): the measured qualities judge; auto/clap: CLAP also judges the "
                           "edited prompt when its weights load")
    edit.add_argument("--clap-model", metavar="ID_OR_DIR", help="CLAP weights (a Hub id or a folder)")
    edit.set_defaults(run=run)


def _macro_help(name: str) -> str:
    units = {"pitch": "a MIDI note, a note name (C5) or a step in semitones (+12)", "brightness": "Hz (centroid)",
             "noisiness": "flatness 0–0.6", "attack": "s", "decay": "s", "length": "s", "vibrato_depth": "st",
             "vibrato_rate": "Hz", "tremolo_depth": "dB", "tremolo_rate": "Hz", "richness": "partials"}
    return f"{name.replace('_', ' ')}: {units[name]}; or +50%% / -20%% / x1.5 relative to the sound"


def _output(args, stem: str, suffix: str) -> Path:
    from studio.errors import StudioError

    output = args.output or Path(f"{stem}-{suffix}.yaml")
    if output.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise StudioError(f"the output {output} must end in .yaml, .yml or .json", "output")
    if output.parent and not output.parent.is_dir():
        raise StudioError(f"cannot write {output}: folder {output.parent} does not exist", "output")
    return output


def _write(preset, output: Path) -> Path:
    import numpy as np

    from studio.audio.io import write_wav
    from studio.presets import save_preset
    from studio.synth import render

    save_preset(preset, output)
    wav = output.with_suffix(".wav")
    write_wav(wav, np.asarray(render(preset.theta, preset.settings)), preset.settings.sample_rate)
    return wav


def cmd_macro(args) -> int:
    """Move the given macros of PRESET; write OUT.yaml and OUT.wav; print each macro's before → after."""
    import dataclasses

    from studio.cli import _load, _lock_mask
    from studio.errors import SettingsError
    from studio.explore.macros import MACROS, format_quality, measure, move, parse_target
    from studio.search import use_compilation_cache

    preset, stem = _load(args.preset)
    asked = {name: getattr(args, name) for name in MACRO_OPTIONS if getattr(args, name) is not None}
    if not asked:
        raise SettingsError("name at least one macro to move, e.g. --brightness +50% or --length 0.3 (see --help)",
                            "macro")
    output = _output(args, stem, "macro")
    mask = _lock_mask(args.lock)
    use_compilation_cache()
    before = measure(preset.theta, preset.settings)
    targets = {name: parse_target(name, text, before[name]) for name, text in asked.items()}
    result = move(preset.theta, preset.settings, targets, mask, seed=args.seed, before=before)
    edited = dataclasses.replace(preset, theta=result.theta, name=f"{preset.name} (macro)")
    wav = _write(edited, output)
    print(f"wrote {output} and {wav}: {result.renders} renders, {result.elapsed_ms / 1000:.1f} s")
    for name, target in targets.items():
        mark = "✓" if result.reached[name] else "✗"
        print(f"  {MACROS[name].label}: {format_quality(name, result.before[name])} → "
              f"{format_quality(name, result.after[name])} (asked {format_quality(name, target)}) {mark}")
    moved = {q: (result.before[q], result.after[q]) for q in result.kept
             if abs(result.others_change()[q]) > 0.05}
    if moved:
        print("  others moved: " + "; ".join(f"{q.replace('_', ' ')} {format_quality(q, b)} → {format_quality(q, a)}"
                                             for q, (b, a) in moved.items()))
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def cmd_edit(args) -> int:
    """Apply EDIT to PRESET; write OUT.yaml and OUT.wav; print what was understood and what changed."""
    import dataclasses

    from studio.cli import _load, _lock_mask
    from studio.explore.word_edits import apply_edit, read_edit
    from studio.search import use_compilation_cache

    preset, stem = _load(args.preset)
    read_edit(args.text)  # an empty or overlong edit fails before anything is loaded or compiled
    output = _output(args, stem, "edit")
    mask = _lock_mask(args.lock)
    scorer = None
    if args.scorer != "descriptors":
        from studio.scoring import make_scorer

        scorer = make_scorer(args.scorer, args.clap_model)
        print(f"scorer: {scorer.label} — {scorer.reason}")
    use_compilation_cache()
    result = apply_edit(preset.theta, preset.settings, args.text, mask, seed=args.seed, scorer=scorer, sound=preset)
    prompt = f"{preset.prompt}, {args.text}" if preset.prompt else None
    edited = dataclasses.replace(preset, theta=result.theta, name=f"{preset.name} ({args.text})"[:120],
                                 prompt=prompt or preset.prompt)
    wav = _write(edited, output)
    print(f"understood: {result.reading.explain()}")
    print(f"wrote {output} and {wav}: {result.renders} renders, {result.elapsed_ms / 1000:.1f} s, judged by "
          f"{result.judge}")
    for change in result.changes:
        print(f"  {change.describe()}")
    print(f"  distance from {preset.name}: {result.distance:.2f} (a δ = {result.delta:g} variation of it: "
          f"{result.budget:.2f})")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def run(args) -> int:
    """Run ``macro`` or ``edit`` from parsed arguments (what ``add_parser`` set as their ``run``)."""
    return {"macro": cmd_macro, "edit": cmd_edit}[args.command](args)


__all__ = ["add_parser", "cmd_edit", "cmd_macro", "run"]
