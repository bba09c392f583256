"""The library panel: pick a factory preset or a saved sound, save the current one, rename, delete.

Wiring only: files, names and isolation rules live in ``studio.library``. In public mode the library a session
sees is chosen by a token the server signed, kept in the browser's localStorage (so a page reload finds the same
sounds), and never by anything the page sends as a name. The key that signs tokens stays on the server: the page
and ``/config`` never see it.
"""
from __future__ import annotations

import dataclasses

import gradio as gr

from studio.legacy_token import adopt_legacy_library, legacy_token
from studio.library import (Library, LibraryError, clean_name, new_session_token, open_library, parse_tags,
                            token_id)
from studio.presets import factory_preset, factory_presets, utc_timestamp
from studio.ui import state as st
from studio.ui.common import (FACTORY, SAVED, RENDER_GROUP, Studio, markdown_text, on_player, sound_outputs,
                              sound_values, status_text, toast_text, user_errors)
from studio.ui.views import render_audio



TOKEN_STORAGE_KEY = "synth-studio-library-key"  # the signed token
LEGACY_STORAGE_KEY = "synth-studio-library-token"  # where older studios kept an unsigned one
BROWSER_STATE_PASSPHRASE = "synth-studio: not a secret, the token is signed on the server"


def library_for(studio: Studio, state: st.StudioState) -> tuple[Library, st.StudioState]:
    """This session's library; in public mode a session without a token (an API client) gets a fresh one."""
    key = studio.config.token_key
    if studio.config.public and not state.token:
        state = dataclasses.replace(state, token=new_session_token(key))
    return open_library(studio.config.library_root, studio.config.public, state.token, key), state


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


def sound_for_choice(studio: Studio, state: st.StudioState, choice: str | None):
    """The preset a picker value names (``factory:NAME`` or ``library:SLUG``) → (preset, state)."""
    if not choice:
        raise LibraryError("choose a sound first")
    library, state = library_for(studio, state)
    if choice.startswith(FACTORY):
        return factory_preset(choice[len(FACTORY):]), state
    if choice.startswith(SAVED):
        return library.load(choice[len(SAVED):]), state
    raise LibraryError(f"unknown sound {choice!r}")


def save_to_library(studio: Studio, state: st.StudioState, preset, version, overwrite: bool = False,
                    make_current: bool = False) -> tuple:
    """Save ``preset`` (rendered with its own settings) to this session's library, for any panel.

    Returns the values for :func:`saved_outputs`: (state, picker update selecting the new entry, version + 1).
    ``make_current``: the saved sound also becomes the synth's reset point (when it *is* the current sound).
    Raises ``LibraryError`` (shown to the user) when the name is taken and ``overwrite`` is off.
    """
    library, state = library_for(studio, state)
    preset = dataclasses.replace(preset, name=clean_name(preset.name), created=utc_timestamp())
    entry = library.save(preset, render_audio(preset), preset.settings.sample_rate, overwrite=bool(overwrite))
    if make_current:
        state = dataclasses.replace(state, sound=preset, base=preset)
    gr.Info(f"Saved “{toast_text(preset.name)}” to the library")
    return state, picker_update(library, SAVED + entry.slug), int(version or 0) + 1


def saved_outputs(studio: Studio) -> list:
    """The components :func:`save_to_library`'s values go to."""
    return [studio.state, studio.picker, studio.library_version]


def build(studio: Studio, initial: st.StudioState) -> dict:
    c = {}
    studio.library_version = gr.State(0)
    studio.picker = c["picker"] = gr.Dropdown(picker_choices(None), value=None, label="Sound", elem_id="sound-picker",
                              info="factory presets and your saved sounds")
    studio.name = gr.Textbox(initial.sound.name, label="Name", max_length=80, elem_id="sound-name")
    studio.tags = c["tags"] = gr.Textbox(", ".join(initial.sound.tags), label="Tags (comma-separated)",
                                         elem_id="sound-tags", max_length=400)
    with gr.Row():
        c["overwrite"] = gr.Checkbox(False, label="Overwrite if the name exists", elem_id="overwrite", scale=2)
        c["save"] = gr.Button("Save to library", variant="primary", elem_id="btn-save", scale=1)
    with gr.Accordion("Rename or delete the selected saved sound", open=False, elem_id="manage"):
        with gr.Row():
            c["new_name"] = gr.Textbox("", label="New name", max_length=80, elem_id="rename-to", scale=2)
            c["rename"] = gr.Button("Rename", elem_id="btn-rename", scale=1)
        c["delete"] = gr.Button("Delete…", variant="stop", elem_id="btn-delete", size="sm")
        with gr.Row(visible=False) as c["confirm_row"]:
            c["confirm_text"] = gr.Markdown("", elem_id="delete-confirm-text")
            c["confirm"] = gr.Button("Yes, delete it", variant="stop", elem_id="btn-delete-confirm", size="sm")
            c["cancel"] = gr.Button("Keep it", elem_id="btn-delete-cancel", size="sm")
    # The stored value is a token the server signed; Gradio's own encryption of it is only obfuscation, with a
    # fixed passphrase that /config shows to everyone (Gradio sends BrowserState's secret to the page).
    c["token"] = gr.BrowserState(None, storage_key=TOKEN_STORAGE_KEY, secret=BROWSER_STATE_PASSPHRASE)
    c["legacy"] = gr.Textbox(None, visible=False)  # an older studio's stored token, read by the load event
    return c


def wire(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    limit = studio.config.render_concurrency
    # Library events are quick file operations: no spinners; their errors and results arrive as toasts.
    private = dict(api_visibility="private", show_progress="hidden")
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private",
                  **on_player(studio))

    def on_page_load(token, legacy, state, version):
        if studio.config.public:
            key = studio.config.token_key
            if token_id(token, key) is None:  # first visit, storage cleared, or a token not signed here
                token = state.token if token_id(state.token, key) is not None else new_session_token(key)
                # A browser an older studio gave a token: its library moves to the new token's folder.
                adopt_legacy_library(studio.config.library_root, legacy_token(legacy, studio.config.legacy_secret),
                                     token, key)
            state = dataclasses.replace(state, token=token)
        library, state = library_for(studio, state)
        # The version bump tells the other panels (morph menus, map) to read this session's library.
        return state, (token if studio.config.public else gr.skip()), picker_update(library), int(version or 0) + 1

    # The page sends what an older studio left in localStorage along with its token (see studio.legacy_token) and
    # forgets it once it holds a signed token.
    demo.load(on_page_load, [c["token"], c["legacy"], studio.state, studio.library_version],
              [studio.state, c["token"], c["picker"], studio.library_version], **private,
              js=f"(token, legacy, ...rest) => [token, localStorage.getItem({LEGACY_STORAGE_KEY!r}), ...rest]"
              ).then(None, js=f"() => {{ if (localStorage.getItem({TOKEN_STORAGE_KEY!r})) "
                             f"localStorage.removeItem({LEGACY_STORAGE_KEY!r}); }}", **private)

    @user_errors
    def pick(choice, state):
        if not choice:
            raise gr.Error("Choose a sound first", print_exception=False)
        preset, state = sound_for_choice(studio, state, choice)
        return sound_values(st.load(state, preset), picked=choice)

    c["picker"].input(pick, [c["picker"], studio.state], sound_outputs(studio), **render)

    @user_errors
    def save(state, name, tags_text, overwrite, version):
        preset = dataclasses.replace(state.sound, name=clean_name(name), tags=parse_tags(tags_text))
        # The saved sound becomes the new reset point.
        state, picker, version = save_to_library(studio, state, preset, version, overwrite, make_current=True)
        return state, picker, version, status_text(state), state.sound.name, False

    c["save"].click(save, [studio.state, studio.name, c["tags"], c["overwrite"], studio.library_version],
                    saved_outputs(studio) + [studio.status, studio.name, c["overwrite"]], **private)

    def selected_slug(choice) -> str:
        if not choice or not choice.startswith(SAVED):
            raise LibraryError("pick one of your saved sounds first (factory presets cannot be changed)")
        return choice[len(SAVED):]

    @user_errors
    def rename(choice, new_name, overwrite, state, version):
        library, state = library_for(studio, state)
        entry = library.rename(selected_slug(choice), new_name, overwrite=bool(overwrite))
        gr.Info(f"Renamed to “{toast_text(entry.name)}”")
        return state, picker_update(library, SAVED + entry.slug), int(version or 0) + 1, ""

    c["rename"].click(rename, [c["picker"], c["new_name"], c["overwrite"], studio.state, studio.library_version],
                      saved_outputs(studio) + [c["new_name"]], **private)

    @user_errors
    def ask_delete(choice, state):
        library, state = library_for(studio, state)
        slug = selected_slug(choice)
        name = library.load(slug).name
        return gr.update(visible=True), f"Delete **{markdown_text(name)}** from the library? This cannot be undone."

    c["delete"].click(ask_delete, [c["picker"], studio.state], [c["confirm_row"], c["confirm_text"]], **private)
    c["cancel"].click(lambda: gr.update(visible=False), None, c["confirm_row"], **private)

    @user_errors
    def delete(choice, state, version):
        library, state = library_for(studio, state)
        slug = selected_slug(choice)
        name = library.load(slug).name
        library.delete(slug)
        gr.Info(f"Deleted “{toast_text(name)}”")
        return state, picker_update(library, None), int(version or 0) + 1, gr.update(visible=False)

    c["confirm"].click(delete, [c["picker"], studio.state, studio.library_version],
                       saved_outputs(studio) + [c["confirm_row"]], **private)
