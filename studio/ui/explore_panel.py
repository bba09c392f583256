"""The explore panels: shared locks, doppelgänger variations and interpolation strips (morphs).

Wiring only: the sounds come from ``studio.explore`` (``variations_of``, ``strip_between``), which the CLI's
``vary`` and ``morph`` use too, so a grid plays exactly what the CLI writes for the same seed. Every result is a
preset with its parent's render settings: "adopt" loads it into the player and knobs (undoable), "save" stores it.
Grids have fixed slots (16 variations, 12 strip steps) that are shown or hidden, so a new grid never rebuilds the page.
"""
from __future__ import annotations

import math

import gradio as gr
import numpy as np

from studio import plots
from studio.checks import check_seed
from studio.explore import LOCK_GROUPS, LOCK_LABELS, describe_locks, lock_mask, strip_between, variations_of
from studio.library import LibraryError
from studio.presets import factory_presets
from studio.ui import state as st
from studio.ui.common import (RENDER_GROUP, Studio, markdown_text, player_audio, sound_outputs, sound_values,
                              user_errors)
from studio.ui.jobs import GATE, client_of, session_id
from studio.ui.library_panel import (FACTORY, library_for, picker_choices, save_to_library, saved_outputs,
                                     sound_for_choice)
from studio.ui.views import to_player, wait_for_warm_up

MAX_VARIATIONS = 16
MAX_STEPS = 12
THUMB = dict(width=320, height=120)  # spectrogram thumbnails (pixels)
CURRENT, PINNED = "current", "pinned"
DEFAULT_B = FACTORY + "bell"


# ---------------------------------------------------------------------------------------------------------------
# Locks


def build_locks(studio: Studio) -> None:
    """The lock checkboxes every tool below honours; fills ``studio.locks`` (values are lock names)."""
    with gr.Accordion("Locks: what variations, morphs, prompt searches and matches must leave alone", open=False,
                      elem_id="locks-section"):
        studio.locks = gr.CheckboxGroup([(LOCK_LABELS[name], name) for name in LOCK_GROUPS], value=[],
                                        label="Locked", elem_id="locks",
                                        info="locked knobs keep the current sound's values (B's end of a morph "
                                             "keeps A's)")


def locks_of(names) -> np.ndarray:
    """The checkbox values → a lock mask ``[78]`` bool."""
    return lock_mask(list(names or []))


# ---------------------------------------------------------------------------------------------------------------
# Shared bits of the two grids


def _slot(prefix: str, i: int, label: str) -> dict:
    """One cell of a grid (hidden until filled): player, spectrogram thumbnail, a line of numbers, adopt/save."""
    c = {}
    with gr.Column(visible=False, min_width=170, elem_id=f"{prefix}-{i}", elem_classes=["grid-cell"]) as c["box"]:
        c["image"] = gr.Image(None, format="jpeg", interactive=False, show_label=False, buttons=[],
                              elem_id=f"{prefix}-spec-{i}", height=THUMB["height"])
        c["audio"] = player_audio(None, type="numpy", format="wav", label=label, interactive=False,
                              buttons=["download"], elem_id=f"{prefix}-audio-{i}")
        c["info"] = gr.Markdown("", elem_id=f"{prefix}-info-{i}")
        with gr.Row():
            c["adopt"] = gr.Button("Adopt", size="sm", elem_id=f"{prefix}-adopt-{i}", min_width=60)
            c["save"] = gr.Button("Save", size="sm", elem_id=f"{prefix}-save-{i}", min_width=60)
    return c


def _grid(prefix: str, cells: int, per_row: int, label) -> list[dict]:
    slots = []
    for start in range(0, cells, per_row):
        with gr.Row(equal_height=False):
            for i in range(start, min(start + per_row, cells)):
                slots.append(_slot(prefix, i, label(i)))
    return slots


def _slot_outputs(slots: list[dict]) -> list:
    return [c[k] for c in slots for k in ("box", "audio", "image", "info")]


def _slot_values(slots: list[dict], presets, audio, infos) -> list:
    """Values for :func:`_slot_outputs`: the first len(presets) cells filled and shown, the rest hidden."""
    values = []
    for i in range(len(slots)):
        if i < len(presets):
            sr = presets[i].settings.sample_rate
            values += [gr.update(visible=True), to_player(audio[i], sr),
                       plots.spectrogram_image(audio[i], sr, **THUMB), infos[i]]
        else:
            values += [gr.update(visible=False), None, None, ""]
    return values


def long_job(options: dict) -> dict:
    """Event options for a long job: those given, minus the render group's queue (concurrency_limit=None: it
    starts at once and jobs.GATE orders it)."""
    return {k: v for k, v in options.items() if k != "concurrency_id"} | {"concurrency_limit": None}


def _wire_adopt_save(studio: Studio, slots: list[dict], found: gr.State, what: str) -> None:
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=studio.config.render_concurrency,
                  api_visibility="private", show_progress="minimal", show_progress_on=[studio.audio])
    for i, c in enumerate(slots):
        c["adopt"].click(user_errors(_adopter(i, what)), [studio.state, found], sound_outputs(studio), **render)
        c["save"].click(user_errors(_saver(studio, i, what)), [studio.state, found, studio.library_version],
                        saved_outputs(studio), api_visibility="private", show_progress="hidden")


def _chosen(found, i: int, what: str):
    if not found or i >= len(found):
        raise LibraryError(f"make {what} first")
    return found[i]


def _adopter(i: int, what: str):
    def adopt(state: st.StudioState, found):
        """Load result i into the player and knobs, as an undoable change (the reset point stays)."""
        return sound_values(st.change(state, _chosen(found, i, what)))

    adopt.__name__ = f"adopt_{what.split()[0]}_{i + 1}"
    return adopt


def _saver(studio: Studio, i: int, what: str):
    def save(state: st.StudioState, found, version):
        return save_to_library(studio, state, _chosen(found, i, what), version)

    save.__name__ = f"save_{what.split()[0]}_{i + 1}"
    return save


# ---------------------------------------------------------------------------------------------------------------
# Variations (doppelgängers)


def build_variations(studio: Studio) -> dict:
    c = {}
    gr.Markdown("Variations of the current sound: every knob takes a random Gaussian step of size δ "
                "(0.25 keeps a recognizable relative). The number under each is its perceptual distance to the "
                "current sound (1.0 ≈ two unrelated sounds).")
    with gr.Row(equal_height=True):
        c["delta"] = gr.Slider(0.0, 1.0, value=0.25, step=0.01, label="δ (step size)", elem_id="var-delta", scale=3)
        c["count"] = gr.Slider(4, MAX_VARIATIONS, value=8, step=1, label="How many", elem_id="var-count", scale=2)
        c["seed"] = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="var-seed", scale=1, min_width=90)
        c["make"] = gr.Button("Make variations", variant="primary", elem_id="btn-variations", scale=1)
    c["summary"] = gr.Markdown("", elem_id="var-summary")
    c["slots"] = _grid("var", MAX_VARIATIONS, 4, lambda i: f"variation {i + 1}")
    c["found"] = gr.State(None)  # tuple of Preset: the variations on show
    return c


def wire_variations(studio: Studio, c: dict) -> None:
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=studio.config.render_concurrency,
                  api_visibility="private", show_progress="minimal", show_progress_on=[c["summary"]])
    slots = c["slots"]

    @user_errors
    def make(state: st.StudioState, delta, count, seed, locks, request: gr.Request = None):
        if delta is None or not math.isfinite(delta) or not 0.0 <= delta <= 1.0:
            raise gr.Error("δ must be between 0 and 1", print_exception=False)
        if count is None or not MAX_VARIATIONS >= count >= 1:
            raise gr.Error(f"Ask for 1 to {MAX_VARIATIONS} variations", print_exception=False)
        seed = check_seed(seed)
        wait_for_warm_up()
        mask = locks_of(locks)
        # refused at once when the page, its address or the server has enough
        with GATE.turn(session_id(request), "variations", client=client_of(request)):
            found = variations_of(state.sound, float(delta), int(count), seed, mask)
        infos = [f"distance **{d:.2f}**" for d in found.distances]
        summary = (f"{int(count)} variations of **{markdown_text(state.sound.name)}** · δ {float(delta):g} · "
                   f"seed {seed} · locked: {describe_locks(mask)} · distances {found.distances.min():.2f}–"
                   f"{found.distances.max():.2f}")
        return (found.presets, summary, *_slot_values(slots, found.presets, found.audio, infos))

    # A long job: never waits in Gradio's queue (whose slots renders and page loads need); the job gate orders it.
    c["make"].click(make, [studio.state, c["delta"], c["count"], c["seed"], studio.locks],
                    [c["found"], c["summary"]] + _slot_outputs(slots), **long_job(render))
    _wire_adopt_save(studio, slots, c["found"], "variations")


# ---------------------------------------------------------------------------------------------------------------
# Morph (interpolation strips)


def endpoint_choices(library=None) -> list[tuple[str, str]]:
    """Where A and B of a strip can come from: the player's A and B, factory presets, saved sounds."""
    return [("current sound (player A)", CURRENT), ("pinned sound (player B)", PINNED)] + picker_choices(library)


def build_morph(studio: Studio) -> dict:
    c = {}
    gr.Markdown("A strip of sounds from A to B along the straight line between their knobs. *Linear* puts the "
                "steps at equal knob distances; *even* re-spaces them so neighbouring steps sound equally far "
                "apart. Spectrograms share one colour scale (0 to −80 dB of full scale); the numbers are "
                "perceptual distances to the neighbouring steps.")
    with gr.Row(equal_height=True):
        c["a"] = gr.Dropdown(endpoint_choices(), value=CURRENT, label="A", elem_id="morph-a", scale=3)
        c["b"] = gr.Dropdown(endpoint_choices(), value=DEFAULT_B, label="B", elem_id="morph-b", scale=3)
        c["steps"] = gr.Slider(3, MAX_STEPS, value=5, step=1, label="Steps", elem_id="morph-steps", scale=2)
        c["mode"] = gr.Radio([("linear", "linear"), ("perceptually even", "even")], value="linear",
                             label="Spacing", elem_id="morph-mode", scale=2)
        c["build"] = gr.Button("Build strip", variant="primary", elem_id="btn-morph", scale=1)
    c["summary"] = gr.Markdown("", elem_id="morph-summary")
    c["slots"] = _grid("morph", MAX_STEPS, 6, lambda i: f"step {i + 1}")
    c["found"] = gr.State(None)  # tuple of Preset: the strip's steps
    return c


def step_info(j: int, position: float, distances: np.ndarray) -> str:
    """The line under step j (0-based): its place on the path and its distances to the neighbouring steps."""
    left = f"← {distances[j - 1]:.2f}" if j > 0 else "A"
    right = f"{distances[j]:.2f} →" if j < len(distances) else "B"
    return f"**{j + 1}** · t {position:.2f} · {left} · {right}"


def wire_morph(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=studio.config.render_concurrency,
                  api_visibility="private", show_progress="minimal", show_progress_on=[c["summary"]])
    slots = c["slots"]

    def endpoint(state: st.StudioState, choice, which: str):
        if choice == CURRENT:
            return state.sound, state
        if choice == PINNED:
            if state.pinned is None:
                raise LibraryError(f"nothing is pinned as B: press “Pin as B” first, or choose another sound "
                                   f"for {which}")
            return state.pinned, state
        return sound_for_choice(studio, state, choice)

    @user_errors
    def build(state: st.StudioState, a_choice, b_choice, steps, mode, locks, request: gr.Request = None):
        if steps is None or not 2 <= steps <= MAX_STEPS:
            raise gr.Error(f"Choose 2 to {MAX_STEPS} steps", print_exception=False)
        a, state = endpoint(state, a_choice, "A")
        b, state = endpoint(state, b_choice, "B")
        wait_for_warm_up()
        mask = locks_of(locks)
        # refused at once when the page, its address or the server has enough
        with GATE.turn(session_id(request), "morph", client=client_of(request)):
            strip, presets = strip_between(a, b, int(steps), mode or "linear", mask)
        infos = [step_info(j, p, strip.step_distances) for j, p in enumerate(strip.positions)]
        note = "" if a.settings == b.settings else f" · every step uses {markdown_text(a.name)}'s render settings"
        summary = (f"{int(steps)}-step {strip.mode} strip from **{markdown_text(a.name)}** to "
                   f"**{markdown_text(b.name)}** · A to B distance "
                   f"{strip.endpoint_distance:.2f} · locked: {describe_locks(mask)}{note}")
        return (state, presets, summary, *_slot_values(slots, presets, strip.audio, infos))

    c["build"].click(build, [studio.state, c["a"], c["b"], c["steps"], c["mode"], studio.locks],
                     [studio.state, c["found"], c["summary"]] + _slot_outputs(slots), **long_job(render))
    _wire_adopt_save(studio, slots, c["found"], "a strip")

    def refresh_choices(state: st.StudioState, a, b):
        """Saved sounds appear in (and deleted ones leave) the A and B menus (the page load bumps the version too)."""
        library, _ = library_for(studio, state)
        choices = endpoint_choices(library)
        values = {v for _, v in choices}
        return (gr.update(choices=choices, value=a if a in values else CURRENT),
                gr.update(choices=choices, value=b if b in values else DEFAULT_B))

    studio.library_version.change(refresh_choices, [studio.state, c["a"], c["b"]], [c["a"], c["b"]],
                                  api_visibility="private", show_progress="hidden")


if not any(p.name == DEFAULT_B[len(FACTORY):] for p in factory_presets()):
    raise RuntimeError(f"morph panel: the default B {DEFAULT_B!r} must name a factory preset")
