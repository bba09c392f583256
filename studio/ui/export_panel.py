"""Exports and imports: download the current sound as a named WAV and preset file; open a preset file by upload.

Wiring only: the files are written and validated by ``studio.library``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import gradio as gr

from studio.library import clean_name, export_files, import_preset, sweep_exports
from studio.ui import state as st
from studio.ui.common import RENDER_GROUP, Studio, on_player, sound_outputs, sound_values, toast_text, user_errors
from studio.ui.views import render_audio

PRESET_TYPES = [".yaml", ".yml", ".json"]


def build(studio: Studio) -> dict:
    c = {}
    with gr.Row():
        c["export"] = gr.Button("⬇ Export WAV + preset", elem_id="btn-export", scale=1)
        c["import"] = gr.UploadButton("⬆ Import preset file", file_types=PRESET_TYPES, file_count="single",
                                      type="filepath", elem_id="btn-import", scale=1)
    c["files"] = gr.File(None, label="Downloads (named after the sound)", file_count="multiple", interactive=False,
                         elem_id="exports", height=120)
    return c


def wire(studio: Studio, c: dict) -> None:
    limit = studio.config.render_concurrency
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private")
    export_dir = Path(studio.config.export_dir)

    @user_errors
    def export(state: st.StudioState, name: str):
        sound = dataclasses.replace(state.sound, name=clean_name(name))  # the name as typed, even if not saved
        sweep_exports(export_dir)
        wav, preset = export_files(sound, render_audio(sound), sound.settings.sample_rate, export_dir)
        return [str(wav), str(preset)]

    c["export"].click(export, [studio.state, studio.name], c["files"], **render, show_progress="minimal")

    @user_errors
    def upload(path, state: st.StudioState):
        if not path:
            raise gr.Error("No file arrived: try the upload again", print_exception=False)
        preset = import_preset(path, display_name=Path(path).name)
        gr.Info(f"Imported “{toast_text(preset.name)}”")
        return sound_values(st.load(state, preset))

    c["import"].upload(upload, [c["import"], studio.state], sound_outputs(studio), **render, **on_player(studio))
