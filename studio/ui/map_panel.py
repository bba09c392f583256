"""The map panel: every factory preset and saved sound on a 2-D map (UMAP, PCA for few sounds); click to hear.

Wiring only: coordinates come from ``studio.explore.sound_map``, the picture from ``studio.plots.map_svg``. The map
is a ``gr.HTML`` whose script reports the clicked point's key with a custom ``point`` event (``gr.Plot`` has no
click events). A click plays the sound; "Open in synth" loads it. Saving, renaming or deleting a sound redraws the
map (the library version changes); so does opening the tab, so a map drawn while UMAP was still warming up (PCA)
becomes a UMAP map the next time it is looked at.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio import plots
from studio.checks import check_seed
from studio.explore import sound_map
from studio.explore.maps import COLOUR_BY, colour_groups
from studio.library import LibraryError
from studio.presets import factory_presets
from studio.ui import state as st
from studio.ui.common import (RENDER_GROUP, Studio, markdown_text, player_audio, sound_outputs, sound_values,
                              user_errors)
from studio.ui.jobs import GATE, client_of, JobRefused, session_id
from studio.ui.library_panel import FACTORY, SAVED, library_for, sound_for_choice
from studio.ui.views import player_view

# Event delegation on the component's root: the SVG inside is replaced on every redraw, the listener stays.
CLICK_SCRIPT = """
element.addEventListener('click', (event) => {
  const point = event.target.closest('[data-key]');
  if (point) { trigger('point', {key: point.getAttribute('data-key')}); }
});
"""
MAP_CSS = """
.sound-map { width: 100%; max-width: 760px; height: auto; display: block; }
.sound-map .map-point { cursor: pointer; transition: r 0.1s; }
.sound-map .map-point:hover { r: 10; }
"""
EMPTY = "<p>Open this tab or press “Draw map” to see your sounds.</p>"


@dataclass(frozen=True)
class DrawnMap:
    """What a drawn map shows (kept per session so a click can redraw the selection ring without refitting)."""

    coords: np.ndarray  # [N, 2] in [−1, 1]
    keys: tuple[str, ...]  # picker values: factory:NAME / library:SLUG
    labels: tuple[str, ...]  # hover text
    groups: tuple[str, ...]  # colour groups
    names: tuple[str, ...]
    note: str

    def svg(self, selected: str | None = None) -> str:
        return plots.map_svg(self.coords, self.keys, self.labels, self.groups, selected, self.names)


def collection(library) -> list[tuple[str, object, str]]:
    """(key, preset, source) for every factory preset and every saved sound of this library."""
    items = [(FACTORY + p.name, p, "factory") for p in factory_presets()]
    for entry in library.entries():
        try:
            items.append((SAVED + entry.slug, library.load(entry.slug), "library"))
        except Exception:  # a file broken on disk must not hide the whole map; the picker reports it on load
            continue
    return items


def hover_label(preset, source: str) -> str:
    tags = f" [{', '.join(preset.tags)}]" if preset.tags else ""
    prompt = f" · “{preset.prompt}”" if preset.prompt else ""
    return f"{preset.name} · {source}{tags}{prompt}"


def draw(library, space: str, colour_by: str, seed: int) -> DrawnMap:
    """Map this library plus the factory presets (θ or perceptual space) → :class:`DrawnMap`."""
    items = collection(library)
    presets = [p for _, p, _ in items]
    # One set of render settings for the perceptual map (the default's), so durations do not separate sounds.
    result = sound_map(np.stack([np.asarray(p.theta, np.float32) for p in presets]), space=space, seed=seed)
    groups = colour_groups([p.tags for p in presets], [p.prompt for p in presets], [s for _, _, s in items],
                           colour_by)
    saved = sum(1 for _, _, s in items if s == "library")
    note = (f"{result.note} · {len(items) - saved} factory presets and {saved} saved sounds · hover to name, "
            "click to hear")
    return DrawnMap(result.coords, tuple(k for k, _, _ in items),
                    tuple(hover_label(p, s) for _, p, s in items), tuple(groups), tuple(p.name for p in presets), note)


def build(studio: Studio) -> dict:
    c = {}
    with gr.Row(equal_height=True):
        c["space"] = gr.Radio([("knobs (θ)", "theta"), ("sound (perceptual)", "perceptual")], value="theta",
                              label="Map of", elem_id="map-space", scale=2)
        c["colour"] = gr.Radio(list(COLOUR_BY), value="tag", label="Colour by", elem_id="map-colour", scale=2)
        c["seed"] = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="map-seed", scale=1, min_width=90)
        c["draw"] = gr.Button("Draw map", elem_id="btn-map", scale=1)
    c["note"] = gr.Markdown("", elem_id="map-note")
    c["map"] = gr.HTML(EMPTY, js_on_load=CLICK_SCRIPT, css_template=MAP_CSS, elem_id="sound-map",
                       padding=False)
    with gr.Row(equal_height=True):
        c["audio"] = player_audio(None, type="numpy", format="wav", label="clicked sound", interactive=False,
                              autoplay=True, buttons=["download"], elem_id="map-audio", scale=3)
        with gr.Column(scale=2):
            c["picked"] = gr.Markdown("Click a point to hear it.", elem_id="map-picked")
            c["open"] = gr.Button("Open in synth", variant="primary", elem_id="btn-map-open")
    c["drawn"] = gr.State(None)  # DrawnMap
    c["selected"] = gr.State(None)  # key of the clicked point
    return c


def wire(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    private = dict(api_visibility="private", show_progress="minimal", show_progress_on=[c["note"]])
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=studio.config.render_concurrency,
                  api_visibility="private")

    @user_errors
    def redraw(state: st.StudioState, space, colour_by, seed, selected, request: gr.Request = None):
        seed = check_seed(seed, "map_seed")
        library, _ = library_for(studio, state)
        try:
            # refused at once when the page, its address or the server has enough
            with GATE.turn(session_id(request), "map", client=client_of(request)):
                drawn = draw(library, space or "theta", colour_by or "tag", seed)
        except JobRefused as refused:  # a note, not an error: page loads redraw the map too
            return gr.update(), gr.update(), str(refused), gr.update()
        selected = selected if selected in drawn.keys else None
        return drawn, drawn.svg(selected), drawn.note, selected

    inputs = [studio.state, c["space"], c["colour"], c["seed"], c["selected"]]
    outputs = [c["drawn"], c["map"], c["note"], c["selected"]]
    triggers = [c["draw"].click, c["space"].input, c["colour"].input, c["seed"].submit,
                studio.library_version.change]
    if "tab" in c:
        triggers.append(c["tab"].select)
    # A long job (perceptual maps render every sound; UMAP compiles once): it never waits in Gradio's queue,
    # whose slots renders and page loads need; the job gate orders it.
    gr.on(triggers, redraw, inputs, outputs, trigger_mode="always_last", concurrency_limit=None, **private)

    @user_errors
    def play(state: st.StudioState, drawn: DrawnMap | None, evt: gr.EventData):
        key = getattr(evt, "_data", {}).get("key") if evt is not None else None
        if drawn is None or key not in drawn.keys:
            raise LibraryError("that point is no longer on the map: draw it again")
        preset, _ = sound_for_choice(studio, state, key)
        audio = player_view(preset)
        label = drawn.labels[drawn.keys.index(key)]
        return audio, f"**{markdown_text(preset.name)}**  \n{markdown_text(label)}", key, drawn.svg(key)

    c["map"].point(play, [studio.state, c["drawn"]], [c["audio"], c["picked"], c["selected"], c["map"]],
                   show_progress="hidden", **render)

    @user_errors
    def open_in_synth(state: st.StudioState, selected):
        if not selected:
            raise LibraryError("click a point on the map first")
        preset, state = sound_for_choice(studio, state, selected)
        return sound_values(st.load(state, preset), picked=selected)

    c["open"].click(open_in_synth, [studio.state, c["selected"]], sound_outputs(studio), show_progress="minimal",
                    show_progress_on=[studio.audio], **render)
