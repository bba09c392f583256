"""What the panels share: the components every handler may update, and how user errors reach the browser."""
from __future__ import annotations

import functools
import html
import logging
import math
import re
from dataclasses import dataclass, field

import gradio as gr

from studio.errors import INTERNAL_ERROR_MESSAGE, StudioError
from studio.scoring.base import ScorerUnavailable
from studio.synth import PARAMS
from studio.ui import state as st
from studio.ui.views import sound_views

# Events that render audio share one concurrency group, sized for the device in app.py.
RENDER_GROUP = "render"
DURATIONS = (0.5, 1.0, 2.0, 3.0, 4.0)  # seconds offered in the menu (each new one compiles once, ~3 s on a CPU)


@dataclass
class Config:
    """How this studio instance runs: where the library lives and whether sessions are isolated."""

    library_root: str
    public: bool
    export_dir: str
    render_concurrency: int = 1  # renders (and long jobs of a kind) the device runs at once
    token_key: str | None = None  # public mode: signs browsers' library tokens and names their folders; never sent
    legacy_secret: str | None = None  # the secret older studios encrypted tokens with (to adopt their libraries)
    render_batch: int = 0  # > 0: concurrent renders go out as one synth call of up to this many sounds (a GPU)
    mcp: bool = False  # also serve the studio's tools as an MCP server (studio.ui.mcp_tools)


@dataclass
class Studio:
    """The components the panels wire together (filled in by the panel builders, in layout order)."""

    config: Config
    state: gr.State = None
    sliders: list = field(default_factory=list)  # 78 gr.Slider, canonical order
    audio: gr.Audio = None  # A: the current sound
    spectrogram: gr.Image = None
    waveform: gr.Image = None
    status: gr.Markdown = None
    name: gr.Textbox = None  # the current sound's display name (library panel)
    tags: gr.Textbox = None  # the current sound's tags, comma-separated (library panel)
    duration: gr.Dropdown = None  # render settings (synth panel)
    noise_seed: gr.Number = None
    audio_b: gr.Audio = None  # B: the pinned sound
    picker: gr.Dropdown = None  # the library panel's sound picker (factory presets and saved sounds)
    library_version: gr.State = None  # bumped by every save, rename and delete: maps redraw on its change
    locks: gr.CheckboxGroup = None  # lock groups kept by variations, strips, searches and matches
    keyboard: dict = None  # the keyboard panel's components (keyboard_panel.build)
    macros: dict = None  # the Macros panel's sliders (macro_panel.build_macros)
    edits: dict = None  # the edit-in-words box (macro_panel.build_edit_box)
    # Callbacks ``follow(event)`` chained after every knob edit (off the queue, so no state.change follows them)
    sound_followers: list = field(default_factory=list)


def player_audio(*args, **kwargs) -> gr.Audio:
    """``gr.Audio(*args, **kwargs)`` for the studio's own sounds (``(sample rate, int16 [T])`` from
    :func:`studio.ui.views.to_player`) that writes each sound's WAV once and reuses it.

    Gradio writes numpy audio to a path named by its content and rewrites that file whenever the same sound comes
    back (undo, re-render, another visitor's identical render), so a browser still fetching it gets a truncated
    file. This player's outputs are written once, atomically, and reused after that: a file that may be served is
    never rewritten. (The override is on the instance: a ``gr.Audio`` subclass would make Gradio write a ``.pyi``
    stub next to this module at import.)
    """
    audio = gr.Audio(*args, **kwargs)
    plain = audio.postprocess

    def postprocess(value):
        if not isinstance(value, tuple):
            return plain(value)
        from gradio.data_classes import FileData

        from studio.audio.io import write_wav_once

        sample_rate, data = value
        return FileData(path=str(write_wav_once(data, int(sample_rate), audio.GRADIO_CACHE)), orig_name="audio.wav")

    audio.postprocess = postprocess
    return audio


def on_player(studio: Studio) -> dict:
    """Event options that show progress (and an error badge) only on player A, not on each of 78 sliders."""
    return dict(show_progress="minimal", show_progress_on=[studio.audio])


log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Text from users (sound names, tags, prompts, file names, preset files, messages that quote them)
#
# Gradio shows toast messages (gr.Error, gr.Warning, gr.Info) as HTML, through a sanitizer that keeps <img>,
# <form>, <input> and links; gr.Markdown renders Markdown and the HTML inside it. So every string that comes from
# a user passes through one of the two functions below before it joins a message or a Markdown value.

# Inline Markdown that could make markup out of plain text: emphasis, code, links and images, strikethrough,
# tables, LaTeX, escapes; "@" and the ":" of "://" stop bare e-mail addresses and URLs from becoming links.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~\[\]!|$@]|:(?=//))")


def toast_text(text) -> str:
    """``text`` (anything a user wrote or a file held) made safe for a toast: HTML-escaped, so markup in it
    shows as the characters typed (Gradio renders toast messages as HTML)."""
    return html.escape(str(text), quote=False)


def markdown_text(text) -> str:
    """``text`` made safe for a ``gr.Markdown`` value: shown literally, with no emphasis, link, image, raw HTML or
    new block made from it. HTML special characters become entities and Markdown's are backslash-escaped (both
    render as the plain character); line breaks become spaces, so the text stays within the line it is put in."""
    text = " ".join(str(text).splitlines())
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:-1] + "\\.", text)  # "www.x.org" would become a link
    text = re.sub(r"^([#=+-])", r"\\\1", text)  # a heading, a list or a rule where the text starts a line
    return html.escape(text, quote=False)


def shown_error(error: BaseException) -> gr.Error:
    """The ``gr.Error`` the browser sees for an exception a handler raised.

    A :class:`~studio.errors.StudioError` (a mistake the user can fix) and an empty undo/redo stack show their own
    message; a ``gr.Error`` passes as it is. Anything else is a defect of the studio: it is logged here with its
    traceback and the browser gets the short internal-error line, never the exception's text.
    """
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, st.NothingToUndo):
        return gr.Error(toast_text(_sentence(error)), title="Nothing to do", print_exception=False)
    if isinstance(error, ScorerUnavailable) and isinstance(error, StudioError):
        return gr.Error(toast_text(_sentence(error)), title="Scorer unavailable", print_exception=False)
    if isinstance(error, StudioError):  # its message may quote a name, a file name or a file's contents
        return gr.Error(toast_text(_sentence(error)), print_exception=False)
    log.error("internal error in a UI handler", exc_info=error)
    return gr.Error(INTERNAL_ERROR_MESSAGE, print_exception=False)


def user_errors(fn):
    """Run a handler so that what goes wrong reaches the browser as :func:`shown_error` says (the studio stays
    usable either way)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise shown_error(error) from None

    return wrapper


def streamed_user_errors(fn=None, *, failed=None):
    """:func:`user_errors` for a generator handler (a long job streaming its progress): an error raised while it
    runs reaches the browser as :func:`shown_error` says; closing the stream (a cancelled event) closes the inner
    generator.

    failed: ``failed(message) -> {component: value}``, the panel's outputs after a failed run (the message in its
    progress line, stale pictures and sounds cleared). With it, a failed run ends with that update and a warning
    toast instead of an event error: Gradio would put a red "Error" label over every output, covering the very
    lines that say what went wrong. Use as ``@streamed_user_errors`` or ``@streamed_user_errors(failed=...)``.
    """
    if fn is None:
        return functools.partial(streamed_user_errors, failed=failed)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        iterator = fn(*args, **kwargs)
        try:
            while True:
                try:
                    value = next(iterator)
                except StopIteration:
                    return
                except Exception as error:
                    shown = shown_error(error)  # logs a defect's traceback
                    if failed is None:
                        raise shown from None
                    gr.Warning(shown.message, title="Not done")
                    yield failed(html.unescape(shown.message))  # failed_line escapes it for Markdown
                    return
                yield value
        finally:
            iterator.close()

    return wrapper


def failed_line(message: str) -> str:
    """A long job's progress line after it failed (the toast says the same): what went wrong, and that nothing
    shown above it is from this run. ``message``: plain text (escaped here)."""
    return f"**✗ Failed:** {markdown_text(message)}"


def _sentence(e: Exception) -> str:
    # Messages start with a file name or a field as often as with a word: shown as written, never re-cased.
    return str(e).strip() or type(e).__name__


# ---------------------------------------------------------------------------------------------------------------
# Slider values


def slider_step(spec) -> float:
    """About a thousandth of the range, rounded down to a power of ten (0.001 s, 0.1 semitone, …)."""
    return 10.0 ** math.floor(math.log10((spec.hi - spec.lo) / 1000.0))


def shown_value(value: float, step: float) -> float:
    """A human value as a slider shows it: a few digits beyond the step, so untouched presets look exact."""
    digits = max(0, -int(math.floor(math.log10(step)))) + 3
    return round(float(value), digits)


def slider_values(theta) -> list[float]:
    """The 78 slider values for θ."""
    human = st.human_values(theta)
    return [shown_value(v, slider_step(p)) for v, p in zip(human, PARAMS)]


# ---------------------------------------------------------------------------------------------------------------
# Outputs of handlers


def status_text(state: st.StudioState) -> str:
    """One line under the player: the sound, whether it differs from its preset, settings, history, B."""
    s = state.sound
    modified = " · *modified*" if st.audibly_modified(state) else ""
    settings = s.settings
    b = f"B: **{markdown_text(state.pinned.name)}**" if state.pinned is not None else "B: none pinned"
    return (f"**{markdown_text(s.name)}**{modified} · {settings.duration:g} s at {settings.sample_rate / 1000:g} kHz, "
            f"noise seed {settings.noise_seed} · undo {len(state.past)} · redo {len(state.future)} · {b}"
            + release_cut_note(s))


def release_cut_note(sound) -> str:
    """`` · ⚠ release cut: …`` when the buffer cuts the sound while it still sounds (its last 10 ms peak above
    −50 dBFS, :func:`studio.instrument.trim.cut_at_end`; the player fades it so it does not click), else ``""``."""
    from studio.instrument.trim import cut_at_end
    from studio.ui.views import render_audio  # remembered: the player's render of the same sound

    cut = cut_at_end(render_audio(sound), sound.settings.sample_rate)
    return " · ⚠ **release cut: raise duration** (*Buffer length* ends before the sound does)" if cut else ""


def view_outputs(studio: Studio) -> list:
    """Components updated after any audible change: state, player A, pictures, status line."""
    return [studio.state, studio.audio, studio.spectrogram, studio.waveform, studio.status]


def view_values(state: st.StudioState) -> tuple:
    audio, spectrogram, waveform = sound_views(state.sound)
    return state, audio, spectrogram, waveform, status_text(state)


# The library panel's picker values: a factory preset by name, a saved sound by its slug.
FACTORY = "factory:"
SAVED = "library:"


def picker_value(sound, picked: str | None = None) -> str | None:
    """The Sound picker's entry that names ``sound``, or None (the picker is cleared).

    ``picked``: the entry the sound was just loaded from, when a handler knows it (the picker itself, a map
    point). Otherwise a factory preset is recognized when the sound *is* it (same name, same θ and settings); any
    other sound (imported, found by a search, a variation, a modified preset…) is named by no entry.
    """
    if picked:
        return picked
    from studio.presets import factory_presets

    for preset in factory_presets():
        if preset.name == sound.name and st.same_sound(preset, sound) and tuple(preset.tags) == tuple(sound.tags):
            return FACTORY + preset.name
    return None


def identity_values(sound, picked: str | None = None) -> tuple:
    """What the library panel shows for the current sound: (name box, tags box, picker update). The one place
    that decides it, for every load (pick, import, open a result, adopt, undo/redo, reset, swap…): Save then
    writes the loaded sound's own name and tags, and the picker never names a different sound."""
    return sound.name, ", ".join(sound.tags), gr.update(value=picker_value(sound, picked))


def sound_outputs(studio: Studio) -> list:
    """Components updated when the whole sound changes (load, undo, randomize…): the view, the name, tags and
    picker (see :func:`identity_values`), the render settings and every slider."""
    return (view_outputs(studio) + [studio.name, studio.tags, studio.picker, studio.duration, studio.noise_seed]
            + studio.sliders)


def sound_values(state: st.StudioState, picked: str | None = None) -> tuple:
    """Values for :func:`sound_outputs` showing ``state``'s current sound; ``picked``: the picker entry it was
    loaded from, when known (see :func:`picker_value`)."""
    settings = state.sound.settings
    durations = sorted(set(DURATIONS) | {float(settings.duration)})  # a preset may bring its own duration
    return view_values(state) + (*identity_values(state.sound, picked),
                                 gr.update(choices=durations, value=float(settings.duration)),
                                 int(settings.noise_seed), *slider_values(state.sound.theta))

