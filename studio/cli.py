"""``python -m studio …``: the studio's jobs from a shell.

    python -m studio render PRESET -o out.wav [--sample-rate N] [--duration S] [--seed N] [--float]
    python -m studio presets
    python -m studio info

PRESET is a preset file (.yaml, .yml, .json) or the name of a factory preset (``bass``). Mistakes a user
can make (a missing or invalid file, a bad option value) end with one line ``error: …`` on stderr and exit
status 1 (2 for usage errors), never a traceback. Heavy modules (JAX, the synth) are imported inside the
commands, so ``--help`` answers at once.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse prints the whole usage before its error message; the studio prints one line."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


class UserError(Exception):
    """A mistake on the command line or in a file, reported as one line."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive, finite number of seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: one sub-command per job."""
    parser = _Parser(prog="python -m studio", description="The synth sketch studio from a shell.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    render = commands.add_parser("render", help="render a preset to a WAV file",
                                 description="Render a preset file or a factory preset to a WAV file.")
    render.add_argument("preset", metavar="PRESET", help="a preset file (.yaml, .yml, .json) or a factory preset name")
    render.add_argument("-o", "--output", metavar="OUT.wav", type=Path,
                        help="where to write the WAV (default: PRESET's name or file stem + .wav, here)")
    render.add_argument("--sample-rate", metavar="HZ", type=_positive_int, help="override the preset's sample rate")
    render.add_argument("--duration", metavar="S", type=_seconds, help="override the preset's duration in seconds")
    render.add_argument("--seed", metavar="N", type=_positive_int, help="override the preset's noise seed")
    render.add_argument("--float", action="store_true", help="write 32-bit float samples instead of 16-bit PCM")
    render.set_defaults(run=cmd_render)

    presets = commands.add_parser("presets", help="list the factory presets", description="List the factory presets.")
    presets.set_defaults(run=cmd_presets)

    info = commands.add_parser("info", help="versions, JAX backend and devices",
                               description="Show the studio's version and its environment.")
    info.set_defaults(run=cmd_info)
    return parser


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
    settings = dataclasses.replace(preset.settings, **overrides)
    try:
        settings.validate()
    except ValueError as err:  # name the option the user typed, not the field behind it
        message = str(err)
        for field, option in (("sample_rate", "--sample-rate"), ("duration", "--duration"), ("noise_seed", "--seed")):
            message = message.replace(f"render setting {field}=", f"{option} ")
        raise UserError(message) from None
    output = args.output or Path(f"{stem}.wav")
    if output.parent and not output.parent.is_dir():
        raise UserError(f"cannot write {output}: folder {output.parent} does not exist")

    from studio.audio.io import write_wav
    from studio.synth import render

    audio = np.asarray(render(preset.theta, settings))
    write_wav(output, audio, settings.sample_rate, subtype="FLOAT" if args.float else "PCM_16")
    peak = float(np.max(np.abs(audio)))
    peak_text = f"{20 * np.log10(peak):.1f} dBFS" if peak > 0 else "silent"
    print(f"wrote {output}: {preset.name}, {audio.size / settings.sample_rate:.2f} s at {settings.sample_rate} Hz, "
          f"peak {peak_text}")
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
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as err:
        return _fail(str(err))
    except ValueError as err:  # PresetError and invalid settings are ValueErrors with readable messages
        return _fail(str(err))
    except BrokenPipeError:  # the reader went away (`… | head`): stop quietly, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        return _fail(f"cannot access{where}: {err.strerror or err}")
    except KeyboardInterrupt:
        return _fail("interrupted")


def _fail(message: str) -> int:
    first_line = " ".join(message.split())  # one line, even if a message had several
    print(f"error: {first_line}", file=sys.stderr)
    return EXIT_ERROR
