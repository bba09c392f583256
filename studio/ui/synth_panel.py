"""The synth panel: the player (A and B), the sound's pictures, the transport buttons and all 78 knobs.

Wiring only: edits of θ and the history live in ``state``, rendering and drawing in ``views``.
"""
from __future__ import annotations

import dataclasses
import logging
import math

import gradio as gr
import numpy as np

from studio.checks import check_choice, check_seed, midi_to_hz, note_name
from studio.synth import MODULES, PARAMS
from studio.ui import keyboard_panel
from studio.ui import state as st
from studio.ui.common import (DURATIONS, RENDER_GROUP, Studio, on_player, player_audio, shown_value, slider_step,
                              slider_values, sound_outputs, sound_values, status_text, user_errors, view_outputs,
                              view_values)
from studio.synth.inert import inert_knobs
from studio.ui.views import picture_views, player_view, same_audio

log = logging.getLogger(__name__)

# Knob sections in the order a sound designer reaches for them; the musical ones start open.
SECTIONS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("Keyboard and mixer", ("keyboard", "mixer"), True),
    ("Oscillators", ("vco_1", "vco_2"), True),
    ("Envelopes", ("adsr_1", "adsr_2"), True),
    ("LFOs", ("lfo_1", "lfo_2"), False),
    ("LFO envelopes", ("lfo_1_amp_adsr", "lfo_2_amp_adsr", "lfo_1_rate_adsr", "lfo_2_rate_adsr"), False),
    ("Modulation matrix", ("mod_matrix",), False),
)
if sorted(m for _, ms, _ in SECTIONS for m in ms) != sorted(MODULES):
    raise RuntimeError("synth panel: every synth module needs exactly one knob section in SECTIONS")

MODULE_TITLES = {
    "keyboard": "Keyboard", "vco_1": "Oscillator 1 · sine", "vco_2": "Oscillator 2 · square–saw",
    "mixer": "Mixer (levels)", "adsr_1": "Envelope 1", "adsr_2": "Envelope 2", "lfo_1": "LFO 1", "lfo_2": "LFO 2",
    "lfo_1_amp_adsr": "LFO 1 depth envelope", "lfo_2_amp_adsr": "LFO 2 depth envelope",
    "lfo_1_rate_adsr": "LFO 1 rate envelope", "lfo_2_rate_adsr": "LFO 2 rate envelope",
    "mod_matrix": "Modulation matrix: source → destination amounts",
}
SEMITONE_KEYS = ("keyboard.midi_f0", "vco_1.tuning", "vco_2.tuning")  # knobs that snap to semitones


def knob_elem_id(key: str) -> str:
    """A CSS-safe element id for a knob: ``keyboard.midi_f0`` → ``knob-keyboard-midi_f0``."""
    return "knob-" + key.replace("->", "-to-").replace(".", "-")


MOD_SOURCES = {"adsr_1": "Envelope 1", "adsr_2": "Envelope 2", "lfo_1": "LFO 1", "lfo_2": "LFO 2"}
MOD_DESTINATIONS = {"vco_1_pitch": "→ osc 1 pitch", "vco_1_amp": "→ osc 1 level", "vco_2_pitch": "→ osc 2 pitch",
                    "vco_2_amp": "→ osc 2 level", "noise_amp": "→ noise level"}


# Knobs whose parameter name misleads a player: the note's length is not the rendered buffer's (render settings).
KNOB_NAMES = {"keyboard.midi_f0": "pitch", "keyboard.duration": "note length"}


def knob_label(spec) -> str:
    """The slider's label: the knob's name and unit; a route of the matrix by its destination (rows name sources)."""
    if spec.module == "mod_matrix":
        return MOD_DESTINATIONS[spec.name.split("->")[1]]
    name = KNOB_NAMES.get(spec.key, spec.name)
    return f"{name} ({spec.unit})" if spec.unit else name


def pitch_text(midi) -> str:
    """What the pitch knob's readout shows for a MIDI note number: the note with cents, and its frequency."""
    if midi is None:
        return ""
    midi = float(midi)
    return f"**{note_name(midi, cents=True)}** · {midi_to_hz(midi):.1f} Hz"


def tooltip_script() -> str:
    """JavaScript that gives each knob a hover description (Gradio sliders have no tooltip option).

    Runs once on page load; a MutationObserver re-applies the titles when Gradio mounts a closed accordion's
    contents later.
    """
    import json

    from studio.explore.macros import MACROS

    tips = {knob_elem_id(p.key): f"{p.key}: {p.description}" + (f" [{p.unit}]" if p.unit else "")
            for p in PARAMS}
    tips.update({f"macro-{m.name}": f"{m.label}: {m.help} [{m.unit}]" for m in MACROS.values()})  # the Macros panel
    return f"""
() => {{
  const tips = {json.dumps(tips)};
  const apply = () => {{
    for (const [id, tip] of Object.entries(tips)) {{
      const el = document.getElementById(id);
      if (el && el.title !== tip) {{ el.title = tip; }}
    }}
  }};
  const resetTip = "Reset to this sound's own value (the loaded preset's, not the init patch)";
  const applyReset = () => {{
    for (const b of document.querySelectorAll('.knob .reset-button')) {{
      if (b.title !== resetTip) {{ b.title = resetTip; b.setAttribute('aria-label', resetTip); }}
    }}
  }};
  apply(); applyReset();
  new MutationObserver(() => {{ apply(); applyReset(); }}).observe(document.body, {{childList: true, subtree: true}});
  const knobOf = el => el && el.closest && el.closest('.knob');
  // A typed value goes to the server as the box's raw text (Gradio's own blur handler would send a stale value and
  // clamp silently): Enter, leaving the box and ↺ all commit through #knob-typed, whose handler clamps with a
  // note or refuses with a message, and sets the box to the value the sound has.
  let typedCount = 0;
  const commitTyped = (knob, text) => {{
    const field = document.querySelector('#knob-typed textarea, #knob-typed input');
    if (!field) return;
    field.value = JSON.stringify([knob.id, text, ++typedCount]);
    field.dispatchEvent(new Event('input', {{bubbles: true}}));
    field.dispatchEvent(new KeyboardEvent('keypress', {{key: 'x', bubbles: true}}));  // Gradio's textbox fires on keys
  }};
  // While typing, the box keeps its raw text: Gradio's number binding would rewrite "1e" or "abc" at once.
  addEventListener('input', e => {{
    if (knobOf(e.target) && e.target.type === 'number') e.stopImmediatePropagation();
  }}, true);
  addEventListener('focus', e => {{
    const t = e.target;
    if (knobOf(t) && t.type === 'number') t.dataset.focused = t.value;
  }}, true);
  addEventListener('blur', e => {{
    const t = e.target;
    if (!(knobOf(t) && t.type === 'number')) return;
    e.stopImmediatePropagation();  // not Gradio's release: it reads the value before the typed text arrives
    const text = t.validity && t.validity.badInput ? 'not a number' : t.value;
    if (text === t.dataset.focused) return;
    if (!Number.isFinite(parseFloat(text))) t.value = t.dataset.focused;  // refused: the previous value again
    commitTyped(knobOf(t), text);
  }}, true);
  // ↺: the loaded sound's own value (Gradio's button would restore the value the page was built with).
  addEventListener('click', e => {{
    const button = e.target.closest && e.target.closest('.reset-button');
    const knob = knobOf(button);
    if (!knob) return;
    const marks = document.querySelector('#knob-marks [data-bases]');
    const bases = marks ? JSON.parse(marks.dataset.bases) : {{}};
    if (!(knob.id in bases)) return;
    e.stopPropagation(); e.preventDefault();
    commitTyped(knob, String(bases[knob.id]));
  }}, true);
  // Enter commits a typed value (Gradio commits on blur only).
  addEventListener('keydown', e => {{
    if (e.key === 'Enter' && knobOf(e.target) && e.target.type === 'number') {{ e.target.blur(); }}
  }}, true);
  // Keys that move a slider commit when let go, like a mouse release.
  const moves = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'PageUp', 'PageDown', 'Home', 'End']);
  addEventListener('keyup', e => {{
    if (moves.has(e.key) && knobOf(e.target) && e.target.type === 'range') {{
      e.target.dispatchEvent(new PointerEvent('pointerup', {{bubbles: true}}));
    }}
  }}, true);
}}
"""


# ---------------------------------------------------------------------------------------------------------------
# Layout


def build_player(studio: Studio, initial: st.StudioState) -> dict:
    """Player A/B, pictures, status line and transport. Returns the buttons for :func:`wire_player`."""
    audio, spectrogram, waveform = _initial_views(initial)
    with gr.Row(equal_height=True):
        studio.audio = player_audio(audio, type="numpy", format="wav", label="A · current sound", interactive=False,
                                autoplay=True, buttons=["download"], elem_id="audio-a", scale=3)
        studio.audio_b = player_audio(None, type="numpy", format="wav", label="B · pinned sound", interactive=False,
                                  buttons=["download"], elem_id="audio-b", scale=2)
    b = {"keyboard": keyboard_panel.build(studio)}  # play the sound's notes right under its player
    # JPEG: 0.3 ms to encode against PNG's 16 ms, and a spectrogram is continuous-tone anyway.
    studio.spectrogram = gr.Image(spectrogram, label="Spectrogram (log frequency, top 80 dB)", format="jpeg",
                                  interactive=False, buttons=[], elem_id="spectrogram-image", show_label=True)
    studio.waveform = gr.Image(waveform, label="Waveform (fixed ±1 scale)", format="png", interactive=False,
                               buttons=[], elem_id="waveform-image")
    studio.status = gr.Markdown(status_text(initial), elem_id="status")
    with gr.Row():
        b["render"] = gr.Button("▶ Render", variant="primary", elem_id="btn-render", size="sm")
        b["undo"] = gr.Button("↶ Undo", elem_id="btn-undo", size="sm")
        b["redo"] = gr.Button("↷ Redo", elem_id="btn-redo", size="sm")
        b["reset"] = gr.Button("Reset to preset", elem_id="btn-reset", size="sm")
        b["pin"] = gr.Button("Pin as B", elem_id="btn-pin", size="sm")
        b["swap"] = gr.Button("Swap A ↔ B", elem_id="btn-swap", size="sm")
    with gr.Row(equal_height=True):
        b["amount"] = gr.Radio(list(st.RANDOM_AMOUNTS), value="vary", label="Randomize amount",
                               info="nudge … anything", elem_id="random-amount", scale=4)
        b["seed"] = gr.Number(1, precision=0, minimum=0, label="Random seed", elem_id="random-seed", scale=1,
                              min_width=100)
        b["randomize"] = gr.Button("Randomize", elem_id="btn-randomize", scale=1)
    return b


def build_knobs(studio: Studio, initial: st.StudioState) -> dict:
    """The 78 knob sliders in collapsible sections, then the render settings; fills ``studio.sliders``.
    ``c["pitch_note"]`` is the pitch knob's note readout (see :func:`wire_pitch_note`)."""
    values = slider_values(initial.sound.theta)
    sliders: dict[int, gr.Slider] = {}
    c = {}
    for title, modules, open_ in SECTIONS:
        with gr.Accordion(title, open=open_, elem_id=f"section-{title.lower().replace(' ', '-')}"):
            if modules == ("mod_matrix",):
                _mod_matrix(values, sliders)
                continue
            with gr.Row():
                for module in modules:
                    with gr.Column(min_width=220):
                        gr.Markdown(f"**{MODULE_TITLES[module]}**")
                        for i, p in enumerate(PARAMS):
                            if p.module == module:
                                sliders[i] = _slider(i, values[i])
                                if p.key == "keyboard.midi_f0":
                                    c["pitch_note"] = gr.Markdown(pitch_text(values[i]), elem_id="pitch-note",
                                                                  elem_classes=["pitch-note"])
    with gr.Accordion("Render settings", open=False, elem_id="section-render-settings"):
        with gr.Row():
            studio.duration = c["duration"] = gr.Dropdown(
                sorted(set(DURATIONS) | {float(initial.sound.settings.duration)}),
                value=float(initial.sound.settings.duration), label="Buffer length (s)", elem_id="buffer-length",
                info="length of the rendered audio (the note itself lasts the keyboard's note length)")
            studio.noise_seed = c["noise_seed"] = gr.Number(initial.sound.settings.noise_seed, precision=0, minimum=0,
                                                            label="Noise seed", elem_id="noise-seed")
            c["snap"] = gr.Checkbox(False, label="Snap pitch to semitones", elem_id="snap-pitch",
                                    info="keyboard pitch and oscillator tuning move in whole semitones")
    studio.sliders = [sliders[i] for i in range(len(PARAMS))]
    return c


def wire_pitch_note(studio: Studio, c: dict) -> None:
    """The pitch knob's readout follows the knob (dragged, typed or loaded with a sound): a note name with cents."""
    knob = studio.sliders[_index("keyboard.midi_f0")]
    knob.change(pitch_text, knob, c["pitch_note"], queue=False, show_progress="hidden", api_visibility="private")


def _slider(index: int, value: float) -> gr.Slider:
    p = PARAMS[index]
    # Bounds rounded outward to 4 decimals, so ±π shows as ±3.1416 (values beyond the range are clipped on use).
    lo, hi = math.floor(p.lo * 1e4) / 1e4, math.ceil(p.hi * 1e4) / 1e4
    return gr.Slider(lo, hi, value=value, step=slider_step(p), label=knob_label(p), elem_id=knob_elem_id(p.key),
                     elem_classes=["knob"], min_width=160)


def _mod_matrix(values, sliders) -> None:
    gr.Markdown(f"**{MODULE_TITLES['mod_matrix']}** (amounts are squared by the knob curve; sums may exceed 1)")
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(PARAMS):
        if p.module == "mod_matrix":
            rows.setdefault(p.name.split("->")[0], []).append(i)
    for source, indices in rows.items():
        gr.Markdown(f"**{MOD_SOURCES[source]}** (`{source}`)")
        with gr.Row():
            for i in indices:
                sliders[i] = _slider(i, values[i])


def _initial_views(initial: st.StudioState):
    _, audio, spectrogram, waveform, _ = view_values(initial)
    return audio, spectrogram, waveform


# ---------------------------------------------------------------------------------------------------------------
# Events


def wire_player(studio: Studio, b: dict) -> None:
    limit = studio.config.render_concurrency
    common = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private",
                  **on_player(studio))
    full = sound_outputs(studio)

    b["render"].click(user_errors(view_values), [studio.state], view_outputs(studio), **common)
    b["undo"].click(user_errors(undo_change), [studio.state], full, **common)
    b["redo"].click(user_errors(redo_change), [studio.state], full, **common)
    b["reset"].click(user_errors(reset_sound), [studio.state], full, **common)
    b["pin"].click(user_errors(pin_sound), [studio.state], [studio.state, studio.audio_b, studio.status], **common)
    b["swap"].click(user_errors(swap_sounds), [studio.state], full + [studio.audio_b], **common)
    b["randomize"].click(user_errors(randomize_sound), [studio.state, b["amount"], b["seed"]], full + [b["seed"]],
                         **common)
    keyboard_panel.wire(studio, b["keyboard"])  # every change of the sound re-arms the keyboard


def undo_change(state: st.StudioState):
    return sound_values(st.undo(state))


def redo_change(state: st.StudioState):
    return sound_values(st.redo(state))


def reset_sound(state: st.StudioState):
    """Back to the last loaded (or saved) preset, as an undoable change."""
    return sound_values(st.change(state, state.base))


def pin_sound(state: st.StudioState):
    state = st.pin(state)
    return state, player_view(state.pinned), status_text(state)


def swap_sounds(state: st.StudioState):
    state = st.swap(state)
    b = player_view(state.pinned)
    return (*sound_values(state), b)


def randomize_sound(state: st.StudioState, amount: str, seed):
    amount = check_choice(amount, st.RANDOM_AMOUNTS, "randomize_amount")
    seed = check_seed(seed, "random_seed")
    theta = st.randomized(state.sound.theta, amount, seed)
    state = st.change(state, st.with_theta(state.sound, theta))
    return (*sound_values(state), int(seed) + 1)  # next click gives a new variation; this one stays reproducible


def wire_knobs(studio: Studio, c: dict) -> None:
    limit = studio.config.render_concurrency
    common = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private",
                  **on_player(studio))
    marks = gr.HTML(knob_marks(studio.state.value), elem_id="knob-marks", container=False, padding=False)
    off_queue = dict(queue=False, api_visibility="private", show_progress="hidden")
    pictures = [studio.spectrogram, studio.waveform]

    def follow_knob_edit(event) -> None:
        """What follows a knob edit: the pictures (after the audio, in their own call), the keyboard's keys and the
        idle-knob marks. Knob edits skip the queue, after which Gradio fires no ``state.change``: so here."""
        event.then(user_errors(draw_pictures), [studio.state], pictures, **off_queue)
        keyboard_panel.follow(studio, event)
        event.then(knob_marks, [studio.state], [marks], **off_queue)
        for follow in studio.sound_followers:  # e.g. the macro sliders re-measure the sound
            follow(event)

    for i, slider in enumerate(studio.sliders):
        # .release, not .change: one render when the user lets go, not one per drag tick. The slider's raw value
        # (preprocess=False) so a typed 1e9, -5 or an empty box reaches the handler, which clamps or refuses it.
        follow_knob_edit(slider.release(user_errors(_knob_handler(i)), [slider, studio.state],
                                        [studio.state, studio.audio, studio.status, slider],
                                        trigger_mode="always_last", preprocess=False, **off_queue))
    # Typed values (Enter, leaving the box, ↺) arrive here as raw text from the page's script (tooltip_script).
    typed = gr.Textbox(elem_id="knob-typed", visible="hidden", container=False)
    follow_knob_edit(typed.input(user_errors(commit_typed), [typed, studio.state],
                                 [studio.state, studio.audio, studio.status, *studio.sliders], **off_queue))
    studio.state.change(knob_marks, [studio.state], [marks], **off_queue)  # every change through the queue

    settings_inputs = [studio.state, c["duration"], c["noise_seed"]]
    c["duration"].input(user_errors(change_settings), settings_inputs, view_outputs(studio), **common)
    gr.on([c["noise_seed"].submit, c["noise_seed"].blur], user_errors(change_settings), settings_inputs,
          view_outputs(studio), **common)

    snap_targets = [studio.sliders[_index(k)] for k in SEMITONE_KEYS]
    c["snap"].input(user_errors(snap_to_semitones), [studio.state, c["snap"]], view_outputs(studio) + snap_targets,
                    **common)


def draw_pictures(state: st.StudioState):
    return picture_views(state.sound)


def knob_marks(state: st.StudioState | None) -> str:
    """Hidden HTML for the knob panel: a style that dims the knobs with no effect on the current sound (and says
    so), and the loaded sound's own value of every knob (for the ↺ buttons)."""
    import json

    if state is None:
        return ""
    idle = sorted(inert_knobs(state.sound.theta))
    bases = {knob_elem_id(p.key): v for p, v in zip(PARAMS, slider_values(state.base.theta))}
    rules = "".join(f"#{knob_elem_id(PARAMS[i].key)}{{opacity:.5}}"
                    f"#{knob_elem_id(PARAMS[i].key)} label span::after{{content:' · no effect now';font-size:.85em}}"
                    for i in idle)
    idle_ids = " ".join(knob_elem_id(PARAMS[i].key) for i in idle)
    return (f"<div style='display:none' data-bases='{json.dumps(bases)}' data-inert='{idle_ids}'></div>"
            f"<style>{rules}</style>")


def _index(key: str) -> int:
    return next(i for i, p in enumerate(PARAMS) if p.key == key)


def typed_value(raw, spec) -> tuple[float, str | None]:
    """A knob's released value as a number in its range, and a note when it was clamped; raises
    :class:`~studio.errors.StudioError` for what is not a number (an empty box, ``NaN``, text)."""
    from studio.errors import StudioError

    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value):
        what = "the box is empty" if raw in (None, "") else "that is not a number"
        raise StudioError(f"{spec.key}: {what}; type a number from {spec.lo:g} to {spec.hi:g}",
                          field=f"params.{spec.key}")
    unit = f" {spec.unit}" if spec.unit else ""
    if value > spec.hi:
        return spec.hi, f"{spec.key}: {value:g} is above the maximum; set to {spec.hi:g}{unit}"
    if value < spec.lo:
        return spec.lo, f"{spec.key}: {value:g} is below the minimum; set to {spec.lo:g}{unit}"
    return value, None


def commit_knob(index: int, raw, state: st.StudioState) -> tuple:
    """A knob set to ``raw`` (a released slider's value or a box's typed text): (state, player A, status line,
    the value the knob must show), with ``gr.skip()`` for what does not change. Out-of-range values clamp with a
    note; what is not a number is refused with a message and the knob shows the sound's value again."""
    from studio.errors import StudioError

    spec = PARAMS[index]
    step = slider_step(spec)
    current = float(st.human_values(state.sound.theta)[index])
    try:
        value, note = typed_value(raw, spec)
    except StudioError as error:  # refused: the box shows the sound's value again
        # Off the queue no toast reaches the page: the message goes on the status line.
        return gr.skip(), gr.skip(), f"{status_text(state)}  \n⚠ {error} (kept {current:g})", \
            shown_value(current, step)
    shown = shown_value(value, step)
    base = np.asarray(state.base.theta, np.float32)
    theta = np.asarray(state.sound.theta, np.float32).copy()
    if value == slider_values(base)[index] and theta[index] != base[index]:
        theta[index] = base[index]  # ↺ (or the preset's value typed): exactly the preset's knob
    elif abs(value - current) < step / 2.0:  # released without moving: keep the exact value
        return gr.skip(), gr.skip(), (status_text(state) + f"  \nℹ {note}" if note else gr.skip()), shown
    else:
        theta = st.with_human_value(theta, index, value)
    sound = st.with_theta(state.sound, theta)
    if same_audio(sound, state.sound):  # no sample changed: no undo step, nothing "modified"
        state = st.change_inaudible(state, sound)
        note = note or f"{spec.key} changes no sample of this sound now (no undo step)"
    else:
        state = st.change(state, sound)
    line = status_text(state) + (f"  \nℹ {note}" if note else "")
    return state, player_view(state.sound), line, shown


KNOB_IDS = {knob_elem_id(p.key): i for i, p in enumerate(PARAMS)}


def commit_typed(payload: str, state: st.StudioState) -> tuple:
    """A value typed into a knob's box (or ↺), sent by the page as JSON ``[knob element id, text, counter]``:
    :func:`commit_knob`'s outputs with that knob's slider set and every other slider left alone."""
    import json

    try:
        elem_id, text, _ = json.loads(payload)
        index = KNOB_IDS[elem_id]
    except (ValueError, TypeError, KeyError):
        log.warning("ignored a malformed typed knob value %r", payload[:200] if isinstance(payload, str) else payload)
        return (gr.skip(),) * (3 + len(PARAMS))
    state, audio, line, shown = commit_knob(index, text.strip() if isinstance(text, str) else text, state)
    sliders = [gr.skip()] * len(PARAMS)
    sliders[index] = shown
    return (state, audio, line, *sliders)


def _knob_handler(index: int):
    spec = PARAMS[index]

    def on_release(raw, state: st.StudioState):
        state, audio, line, shown = commit_knob(index, raw, state)
        return state, audio, line, (gr.skip() if isinstance(shown, float) and raw == shown else shown)

    on_release.__name__ = f"set_{spec.key}"
    return on_release


def change_settings(state: st.StudioState, duration, noise_seed):
    if duration is None or noise_seed is None:
        raise gr.Error("Choose a duration and a noise seed", print_exception=False)
    noise_seed = check_seed(noise_seed, "noise_seed")
    settings = dataclasses.replace(state.sound.settings, duration=float(duration), noise_seed=noise_seed)
    if settings == state.sound.settings:
        return gr.skip()
    return view_values(st.change(state, st.with_settings(state.sound, settings)))


def snap_to_semitones(state: st.StudioState, snap: bool):
    indices = [_index(k) for k in SEMITONE_KEYS]
    human = st.human_values(state.sound.theta)
    if snap:
        theta = st.with_human_values(state.sound.theta, {i: float(np.round(human[i])) for i in indices})
        state = st.change(state, st.with_theta(state.sound, theta))
        human = st.human_values(theta)
    steps = [1.0 if snap else slider_step(PARAMS[i]) for i in indices]
    updates = [gr.update(step=s, value=shown_value(human[i], s)) for i, s in zip(indices, steps)]
    return (*view_values(state), *updates)
