"""The library panel: pick a factory preset or a saved sound, save the current one, rename, delete.

Wiring only: files, names and isolation rules live in ``studio.library``. In public mode the library a session
sees is chosen by a secret token kept in the browser's localStorage (so a page reload finds the same sounds) and
never by anything the page sends as a name.
"""
from __future__ import annotations

import dataclasses

import gradio as gr

from studio.library import (Library, LibraryError, clean_name, new_session_token, open_library, parse_tags)
from studio.presets import factory_preset, factory_presets, utc_timestamp
from studio.ui import state as st
from studio.ui.common import (RENDER_GROUP, Studio, on_player, sound_outputs, sound_values, status_text,
                              user_errors)
from studio.ui.views import render_audio

FACTORY = "factory:"
SAVED = "library:"


def library_for(studio: Studio, state: st.StudioState) -> tuple[Library, st.StudioState]:
    """This session's library; in public mode a session without a token (an API client) gets a fresh one."""
    if studio.config.public and not state.token:
        state = dataclasses.replace(state, token=new_session_token())
    return open_library(studio.config.library_root, studio.config.public, state.token), state


def picker_choices(library: Library | None) -> list[tuple[str, str]]:
    """(label, value) pairs: factory presets first, then saved sounds."""
    choices = [(f"factory · {p.name}", FACTORY + p.name) for p in factory_presets()]
    if library is not None:
        for e in library.entries():
            tags = f"  [{', '.join(e.tags)}]" if e.tags else ""
            choices.append((f"saved · {e.name}{tags}", SAVED + e.slug))
    return choices


def picker_update(library: Library | None, value: str | None = None):
    return gr.update(choices=picker_choices(library), value=value)


def build(studio: Studio, initial: st.StudioState) -> dict:
    c = {}
    c["picker"] = gr.Dropdown(picker_choices(None), value=None, label="Sound", elem_id="sound-picker",
                              info="factory presets and your saved sounds")
    studio.name = gr.Textbox(initial.sound.name, label="Name", max_length=80, elem_id="sound-name")
    c["tags"] = gr.Textbox("", label="Tags (comma-separated)", elem_id="sound-tags", max_length=400)
    with gr.Row():
        c["overwrite"] = gr.Checkbox(False, label="Overwrite if the name exists", elem_id="overwrite", scale=2)
        c["save"] = gr.Button("Save to library", variant="primary", elem_id="btn-save", scale=1)
    with gr.Accordion("Rename or delete the selected saved sound", open=False, elem_id="manage"):
        with gr.Row():
            c["new_name"] = gr.Textbox("", label="New name", max_length=80, elem_id="rename-to", scale=2)
            c["rename"] = gr.Button("Rename", elem_id="btn-rename", scale=1)
        c["delete"] = gr.Button("Delete…", variant="stop", elem_id="btn-delete", size="sm")
        with gr.Row(visible=False) as c["confirm_row"]:
            c["confirm_text"] = gr.Markdown("")
            c["confirm"] = gr.Button("Yes, delete it", variant="stop", elem_id="btn-delete-confirm", size="sm")
            c["cancel"] = gr.Button("Keep it", elem_id="btn-delete-cancel", size="sm")
    c["token"] = gr.BrowserState(None, storage_key="synth-studio-library-token",
                                 secret=studio.config.browser_secret)
    return c


def wire(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    limit = studio.config.render_concurrency
    # Library events are quick file operations: no spinners; their errors and results arrive as toasts.
    private = dict(api_visibility="private", show_progress="hidden")
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private",
                  **on_player(studio))

    def on_page_load(token, state):
        if studio.config.public:
            if not (isinstance(token, str) and len(token) >= 16):  # first visit, or storage cleared
                token = state.token or new_session_token()
            state = dataclasses.replace(state, token=token)
        library, state = library_for(studio, state)
        return state, (token if studio.config.public else gr.skip()), picker_update(library)

    demo.load(on_page_load, [c["token"], studio.state], [studio.state, c["token"], c["picker"]], **private)

    @user_errors
    def pick(choice, state):
        if not choice:
            raise gr.Error("Choose a sound first", print_exception=False)
        library, state = library_for(studio, state)
        if choice.startswith(FACTORY):
            preset = factory_preset(choice[len(FACTORY):])
        elif choice.startswith(SAVED):
            preset = library.load(choice[len(SAVED):])
        else:
            raise LibraryError(f"unknown sound {choice!r}")
        return (*sound_values(st.load(state, preset)), ", ".join(preset.tags))

    c["picker"].input(pick, [c["picker"], studio.state], sound_outputs(studio) + [c["tags"]], **render)

    @user_errors
    def save(state, name, tags_text, overwrite):
        library, state = library_for(studio, state)
        preset = dataclasses.replace(state.sound, name=clean_name(name), tags=parse_tags(tags_text),
                                     created=utc_timestamp())
        entry = library.save(preset, render_audio(preset), preset.settings.sample_rate, overwrite=bool(overwrite))
        state = dataclasses.replace(state, sound=preset, base=preset)  # the saved sound is the new reset point
        gr.Info(f"Saved “{preset.name}” to the library")
        return state, picker_update(library, SAVED + entry.slug), status_text(state), preset.name, False

    c["save"].click(save, [studio.state, studio.name, c["tags"], c["overwrite"]],
                    [studio.state, c["picker"], studio.status, studio.name, c["overwrite"]], **private)

    def selected_slug(choice) -> str:
        if not choice or not choice.startswith(SAVED):
            raise LibraryError("pick one of your saved sounds first (factory presets cannot be changed)")
        return choice[len(SAVED):]

    @user_errors
    def rename(choice, new_name, overwrite, state):
        library, state = library_for(studio, state)
        entry = library.rename(selected_slug(choice), new_name, overwrite=bool(overwrite))
        gr.Info(f"Renamed to “{entry.name}”")
        return state, picker_update(library, SAVED + entry.slug), ""

    c["rename"].click(rename, [c["picker"], c["new_name"], c["overwrite"], studio.state],
                      [studio.state, c["picker"], c["new_name"]], **private)

    @user_errors
    def ask_delete(choice, state):
        library, state = library_for(studio, state)
        slug = selected_slug(choice)
        name = library.load(slug).name
        return gr.update(visible=True), f"Delete **{name}** from the library? This cannot be undone."

    c["delete"].click(ask_delete, [c["picker"], studio.state], [c["confirm_row"], c["confirm_text"]], **private)
    c["cancel"].click(lambda: gr.update(visible=False), None, c["confirm_row"], **private)

    @user_errors
    def delete(choice, state):
        library, state = library_for(studio, state)
        slug = selected_slug(choice)
        name = library.load(slug).name
        library.delete(slug)
        gr.Info(f"Deleted “{name}”")
        return state, picker_update(library, None), gr.update(visible=False)

    c["confirm"].click(delete, [c["picker"], studio.state], [studio.state, c["picker"], c["confirm_row"]], **private)
