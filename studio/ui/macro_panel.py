"""The Macros panel beside the knobs and the edit box by the player (issue 17).

- **Macros** (an accordion at the top of the column beside the knobs): one slider per named quality (pitch,
  brightness, noisiness, attack, decay, length, vibrato and tremolo depth and rate, richness), in the quality's own
  unit, starting at the current sound's *measured* value.
  Letting go of a slider moves θ so that quality follows and the others stay (:func:`studio.explore.macros.move`,
  verified by rendering); the locks above the tools apply; every move is one undoable step; a line under the
  sliders says what moved and whether the synth could go that far.
- **Edit in words**: a box above the player ("brighter", "an octave lower", "shorter and more wobble") applied to the
  current sound (:func:`studio.explore.word_edits.apply_edit`); the line under it says what it understood and,
  per quality, before → after. Words it does not know change nothing and are named.

Wiring only: the searches live in ``studio.explore``; the sound and its history in ``state``. Both events render,
so they run in the render concurrency group; their outputs are the whole sound (knobs, player, pictures), after
which Gradio's ``state.change`` re-arms the keyboard and refreshes these sliders.
"""
from __future__ import annotations

import math

import gradio as gr
import numpy as np

from studio.ui import state as st
from studio.ui.common import RENDER_GROUP, Studio, markdown_text, on_player, sound_outputs, sound_values, user_errors

HELP = ("Named qualities of the sound, measured on it. Move one and let go: the knobs move so that quality follows "
        "while the others stay (the locks above the tools apply; ↶ Undo takes a move back).")
OFF_QUEUE = dict(queue=False, api_visibility="private", show_progress="hidden")
EDIT_EXAMPLES = ["brighter", "an octave lower", "shorter and more wobble", "less noise", "slightly darker",
                 "more like a bell"]


def _names() -> tuple[str, ...]:
    from studio.explore.macros import MACRO_NAMES

    return MACRO_NAMES


def slider_label(name: str) -> str:
    from studio.explore.macros import MACROS

    m = MACROS[name]
    return f"{m.label} ({m.unit})"


def build_macros(studio: Studio, initial: st.StudioState) -> dict:
    """The Macros accordion (call inside the column beside the knobs: the library's, at its top)."""
    from studio.explore.macros import MACROS

    c: dict = {"sliders": {}}
    values = _measured(initial.sound)
    with gr.Accordion("Macros: brightness, length, pitch, wobble … in their own units", open=False,
                      elem_id="section-macros"):
        gr.Markdown(HELP, elem_id="macro-help")
        with gr.Row():
            for name in _names():
                m = MACROS[name]
                lo, hi = _range(name, initial.sound)
                value, known = _slider_value(name, values, lo, hi)
                c["sliders"][name] = gr.Slider(lo, hi, value=value, step=m.step, label=slider_label(name),
                                               interactive=known, elem_id=f"macro-{name}", buttons=[],
                                               elem_classes=["macro"], min_width=150)
        c["note"] = gr.Markdown("", elem_id="macro-note")
    studio.macros = c
    sliders = [c["sliders"][n] for n in _names()]
    # Knob edits skip the queue, so Gradio fires no state.change after them: the synth panel calls this instead.
    studio.sound_followers.append(lambda event: event.then(user_errors(macro_values), [studio.state], sliders,
                                                           **OFF_QUEUE))
    return c


def build_edit_box(studio: Studio) -> dict:
    """The edit-in-words box (call inside the player column, above the player: on a phone the knobs follow the
    player, and the box would push them a screen down)."""
    c: dict = {}
    with gr.Row(equal_height=True):
        c["text"] = gr.Textbox("", label="Edit in words", placeholder="brighter · an octave lower · shorter and more "
                               "wobble · slightly darker · more like a bell", elem_id="edit-text", scale=5,
                               max_lines=1, submit_btn=False)
        c["apply"] = gr.Button("Apply edit", elem_id="btn-edit", scale=1, size="sm")
    c["examples"] = gr.Examples(EDIT_EXAMPLES, [c["text"]], label="Examples", examples_per_page=len(EDIT_EXAMPLES),
                                elem_id="edit-examples")
    c["result"] = gr.Markdown("", elem_id="edit-result")
    # On a phone the examples would push the player down a third of a screen: the box alone stays.
    gr.HTML("<style>@media (max-width: 640px) { #edit-examples { display: none; } }</style>", container=False,
            padding=False)
    studio.edits = c
    return c


def wire(studio: Studio, macros: dict, edits: dict) -> None:
    """Slider releases and the edit box change the sound (render group); every change refreshes the sliders."""
    limit = studio.config.render_concurrency
    common = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private",
                  **on_player(studio))
    sliders = [macros["sliders"][n] for n in _names()]
    full = sound_outputs(studio)
    for name, slider in macros["sliders"].items():
        slider.release(user_errors(_macro_handler(name)), [slider, studio.state, studio.locks],
                       full + sliders + [macros["note"]], trigger_mode="always_last", **common)
    edit_inputs = [edits["text"], studio.state, studio.locks]
    gr.on([edits["apply"].click, edits["text"].submit], user_errors(apply_words), edit_inputs,
          full + sliders + [edits["result"]], **common)
    studio.state.change(user_errors(macro_values), [studio.state], sliders, **OFF_QUEUE)


# ---------------------------------------------------------------------------------------------------------------
# Values


def _range(name: str, sound) -> tuple[float, float]:
    from studio.explore.macros import slider_range

    return slider_range(name, sound.settings)


def _measured(sound) -> dict[str, float]:
    from studio.audio.sound_profile import profile_as_dict, sound_profile
    from studio.ui.views import render_audio

    return profile_as_dict(sound_profile(np.asarray(render_audio(sound)), sound.settings.sample_rate))


def _slider_value(name: str, values: dict, lo: float, hi: float) -> tuple[float, bool]:
    """The slider's value for a measured quality (clamped to its range, rounded to its step), and whether the sound
    has it at all (a rate needs a wobble deep enough to have one)."""
    from studio.explore.macros import DEPTH_OF, MACROS, RATE_PRESENT

    value = values.get(name, math.nan)
    depth = DEPTH_OF.get(name)
    if not np.isfinite(value) or (depth and not values.get(depth, 0.0) >= RATE_PRESENT[depth]):
        return lo, False
    digits = max(0, -int(math.floor(math.log10(MACROS[name].step))))
    return float(np.clip(round(value, digits), lo, hi)), True


def macro_values(state: st.StudioState | None) -> list:
    """Each macro slider at the sound's measured value (a quality the sound lacks: greyed out, at its low end)."""
    if state is None:
        return [gr.skip()] * len(_names())
    values = _measured(state.sound)
    out = []
    for name in _names():
        lo, hi = _range(name, state.sound)
        value, known = _slider_value(name, values, lo, hi)
        label = slider_label(name) + ("" if known else " · none in this sound")
        out.append(gr.update(value=value, minimum=lo, maximum=hi, interactive=known, label=label))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Handlers


def _macro_handler(name: str):
    def on_release(value, state: st.StudioState, locks):
        return move_macro(name, value, state, locks)

    on_release.__name__ = f"macro_{name}"
    return on_release


def move_macro(name: str, value, state: st.StudioState, locks) -> tuple:
    """A macro slider let go at ``value``: move the sound there (one undoable step) and say what moved."""
    from studio.checks import check_number
    from studio.explore.locks import lock_mask
    from studio.explore.macros import MACROS, format_quality, move

    lo, hi = _range(name, state.sound)
    target = check_number(value, lo, hi, f"macro {MACROS[name].label}")
    values = _measured(state.sound)
    if np.isfinite(values[name]) and abs(target - values[name]) < MACROS[name].step / 2:
        return (*(gr.skip(),) * len(sound_outputs_count()), *macro_values(state), gr.skip())  # let go in place
    result = move(state.sound.theta, state.sound.settings, {name: target}, lock_mask(list(locks or [])),
                  before=values)
    line = f"**{MACROS[name].label}**: {markdown_text(result.summary())}"
    others = {q: (result.before[q], result.after[q]) for q, d in result.others_change().items() if d > 0.1}
    if others and result.changed:
        line += "  \nalso moved: " + "; ".join(f"{q.replace('_', ' ')} {format_quality(q, b)} → {format_quality(q, a)}"
                                             for q, (b, a) in others.items())
    line += f"  \n<small>{result.renders} renders, {result.elapsed_ms:.0f} ms</small>"
    if not result.changed:
        return (*(gr.skip(),) * len(sound_outputs_count()), *macro_values(state), line)
    state = st.change(state, st.with_theta(state.sound, result.theta))
    return (*sound_values(state), *macro_values(state), line)


def apply_words(text, state: st.StudioState, locks) -> tuple:
    """An edit in words applied to the current sound (one undoable step); the line says what it understood and
    what changed. Words it does not know change nothing: the line names them."""
    from studio.explore.locks import lock_mask
    from studio.explore.word_edits import EditError, apply_edit

    skip = (gr.skip(),) * (len(sound_outputs_count()) + len(_names()))
    try:
        result = apply_edit(state.sound.theta, state.sound.settings, text, lock_mask(list(locks or [])),
                            scorer=_clap_if_loaded(), sound=state.sound)
    except EditError as error:
        return (*skip, f"⚠ {markdown_text(error)}")
    line = (f"**Understood:** {markdown_text(result.reading.explain())}  \n"
            f"**Changed:** {markdown_text(result.summary())}  \n"
            f"<small>judged by {markdown_text(result.judge)}; {result.renders} renders, "
            f"{result.elapsed_ms:.0f} ms</small>")
    if not result.changed:
        return (*skip, line)
    state = st.change(state, st.with_theta(state.sound, result.theta))
    return (*sound_values(state), *macro_values(state), line)


MACRO_WARM_UP = "macro-warm-up"


def prepare() -> None:
    """Compile the macro and edit searches' programs (render + profile, render + embedding) for the default sound
    shape in a background thread, once per process, so the first move does not wait ~20 s for them."""
    from studio.background import once

    def warm() -> None:
        from studio.explore.macros import embed_thetas, measure_thetas
        from studio.synth import RenderSettings, default_theta

        theta = default_theta()[None]
        try:
            measure_thetas(theta, RenderSettings())
            embed_thetas(theta, RenderSettings())
        except RuntimeError as error:  # the process is exiting while it compiles: nothing to warm any more
            if "after shutdown" not in str(error):
                raise

    once(MACRO_WARM_UP, warm)


def _clap_if_loaded():
    """The prompt panel's scorer when it is CLAP and already loaded (edits never wait for it); else None."""
    try:
        from studio.background import started
        from studio.scoring.shared import SCORER

        future = started(SCORER)  # never starts the load itself
        if future is not None and future.done() and future.exception() is None:
            scorer = future.result()
            return scorer if getattr(scorer, "semantic", False) and not getattr(scorer, "jittable", True) else None
    except Exception:  # noqa: BLE001 — no CLAP is the ordinary case
        return None
    return None


def sound_outputs_count() -> range:
    """How many outputs :func:`studio.ui.common.sound_outputs` has (view 5, identity 3, settings 2, 78 knobs)."""
    from studio.synth import N_PARAMS

    return range(5 + 3 + 2 + N_PARAMS)
