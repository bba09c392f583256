"""Exports and imports: download the current sound as a named WAV and preset file (trimmed or whole, at a chosen
sample rate and bit depth), as a multi-sample instrument (SFZ / DecentSampler zip), or play a MIDI file through it;
open a preset file by upload.

Wiring only: the files are written and validated by ``studio.library`` and ``studio.instrument``.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import gradio as gr

from studio.library import clean_name, import_preset, slugify, sweep_exports
from studio.ui import state as st
from studio.ui.common import (RENDER_GROUP, Studio, on_player, player_audio, sound_outputs, sound_values, toast_text,
                              user_errors)
from studio.ui.views import to_player

PRESET_TYPES = [".yaml", ".yml", ".json"]
MIDI_TYPES = [".mid", ".midi"]
OWN_RATE = "the sound's own"
SAMPLE_RATES = [OWN_RATE, "44100", "48000", "96000"]


def build(studio: Studio) -> dict:
    c = {}
    with gr.Row():
        c["export"] = gr.Button("⬇ Export WAV + preset", elem_id="btn-export", scale=1)
        c["import"] = gr.UploadButton("⬆ Import preset file", file_types=PRESET_TYPES, file_count="single",
                                      type="filepath", elem_id="btn-import", scale=1)
    with gr.Accordion("Export options, instrument, MIDI file", open=False, elem_id="export-more"):
        with gr.Row():
            c["trim"] = gr.Checkbox(False, label="Trim to the audible end (with a fade)", elem_id="export-trim")
            c["rate"] = gr.Dropdown(SAMPLE_RATES, value=OWN_RATE, label="Sample rate (Hz)", elem_id="export-rate")
            c["bits"] = gr.Radio(["16", "24"], value="16", label="Bits", elem_id="export-bits")
        gr.Markdown("**Instrument**: a sample every N semitones, mapped across the keyboard, zipped with the preset.")
        with gr.Row():
            c["format"] = gr.Radio(["sfz", "dspreset", "both"], value="both", label="Sampler file",
                                   elem_id="instrument-format")
            c["every"] = gr.Slider(1, 12, value=3, step=1, label="Every N semitones", elem_id="instrument-every")
        with gr.Row():
            c["low"] = gr.Textbox("C2", label="Lowest note", max_lines=1, elem_id="instrument-low")
            c["high"] = gr.Textbox("C7", label="Highest note", max_lines=1, elem_id="instrument-high")
        c["instrument"] = gr.Button("⬇ Export instrument (.zip)", elem_id="btn-export-instrument")
        gr.Markdown("**Play a MIDI file** (.mid) through the current sound.")
        c["midi"] = gr.UploadButton("🎹 Play MIDI file", file_types=MIDI_TYPES, file_count="single",
                                    type="filepath", elem_id="btn-midi")
        c["song"] = player_audio(None, label="MIDI file played", type="numpy", interactive=False,
                                 elem_id="midi-player", buttons=["download"])
        c["song_info"] = gr.Markdown("", elem_id="midi-info")
    c["files"] = gr.File(None, label="Downloads (named after the sound)", file_count="multiple", interactive=False,
                         elem_id="exports", height=120)
    return c


def _rate(value: str) -> int | None:
    return None if not value or value == OWN_RATE else int(value)


def wire(studio: Studio, c: dict) -> None:
    from studio.instrument.midi import play_midi
    from studio.instrument.sampler import export_instrument, export_sound

    limit = studio.config.render_concurrency
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private")
    export_dir = Path(studio.config.export_dir)

    @user_errors
    def export(state: st.StudioState, name: str, trim: bool, rate: str, bits: str):
        sound = dataclasses.replace(state.sound, name=clean_name(name))  # the name as typed, even if not saved
        sweep_exports(export_dir)
        wav, preset = export_sound(sound, export_dir, sample_rate=_rate(rate), bits=int(bits), trim=bool(trim))
        return [str(wav), str(preset)]

    c["export"].click(export, [studio.state, studio.name, c["trim"], c["rate"], c["bits"]], c["files"], **render,
                      show_progress="minimal")

    @user_errors
    def instrument(state: st.StudioState, name: str, fmt: str, every: float, low: str, high: str, rate: str,
                   bits: str):
        sound = dataclasses.replace(state.sound, name=clean_name(name))
        sweep_exports(export_dir)
        folder = Path(tempfile.mkdtemp(prefix="export-", dir=export_dir))
        made = export_instrument(sound, folder / f"{slugify(sound.name)}.zip", fmt=fmt, every=every, low=low,
                                 high=high, sample_rate=_rate(rate), bits=int(bits))
        gr.Info(toast_text(made.describe()))
        return [str(made.path)]

    c["instrument"].click(instrument, [studio.state, studio.name, c["format"], c["every"], c["low"], c["high"],
                                       c["rate"], c["bits"]], c["files"], **render, show_progress="minimal")

    @user_errors
    def play_midi_file(path, state: st.StudioState, rate: str):
        if not path:
            raise gr.Error("No file arrived: try the upload again", print_exception=False)
        song = play_midi(state.sound, path, sample_rate=_rate(rate), source=Path(path).name)
        return to_player(song.audio, song.sample_rate), f"{Path(path).name} through **{state.sound.name}**: " \
                                                        f"{song.describe()}"

    c["midi"].upload(play_midi_file, [c["midi"], studio.state, c["rate"]], [c["song"], c["song_info"]], **render,
                     show_progress="minimal")

    @user_errors
    def upload(path, state: st.StudioState):
        if not path:
            raise gr.Error("No file arrived: try the upload again", print_exception=False)
        preset = import_preset(path, display_name=Path(path).name)
        gr.Info(f"Imported “{toast_text(preset.name)}”")
        return sound_values(st.load(state, preset))

    c["import"].upload(upload, [c["import"], studio.state], sound_outputs(studio), **render, **on_player(studio))
