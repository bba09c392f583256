"""The studio's events as Gradio runs them (``process_api`` with a per-session state), without a browser:
library save/rename/delete with its guards, A/B, randomize, snapping, settings, and readable errors."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from app_session import Session

from studio.errors import INTERNAL_ERROR_MESSAGE, StudioError
from studio.library import new_session_token
from studio.ui.app import build_app, make_config
from studio.ui.common import streamed_user_errors, user_errors
from studio.ui.jobs import JobRunner

# A forged sound id is refused twice over: Gradio checks a dropdown's value against the choices it offered this
# session, and the library checks ids and namespaces; either message will do.
REFUSED = "is not one of the choices|not in the list of choices|no saved sound|not a valid sound id"



@pytest.fixture(scope="module")
def local(tmp_path_factory, loop):
    root = tmp_path_factory.mktemp("library")
    return build_app(make_config(root, public=False)), root


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    root = tmp_path_factory.mktemp("public-library")
    return build_app(make_config(root, public=True)), root


def status_of(session: Session, name: str, data: list) -> str:
    return session.outputs(name, data)["status"]


def value_of(update) -> object:
    return update["value"] if isinstance(update, dict) and "value" in update else update


def test_pick_tweak_save_rename_delete(local, loop):
    demo, root = local
    s = Session(demo, loop)
    out = s("pick", "factory:bass")
    assert status_of(s, "pick", out).startswith("**bass**") and s.outputs("pick", out)["sound-name"] == "bass"
    out = s("set_keyboard.midi_f0", 40.0)
    assert "*modified*" in status_of(s, "set_keyboard.midi_f0", out)
    out = s("save", "Deep bass", "low, test", False)
    assert value_of(s.outputs("save", out)["sound-picker"]) == "library:deep-bass"
    assert (root / "deep-bass.yaml").exists() and (root / "deep-bass.wav").exists()

    # The same name again: refused unless overwriting is ticked (and the tick is cleared after use).
    with pytest.raises(gr.Error, match="already exists"):
        s("save", "deep BASS!", "", False)
    out = s("save", "deep BASS!", "", True)
    assert s.outputs("save", out)["overwrite"] is False

    out = s("rename", "library:deep-bass", "Deeper bass", False)
    assert value_of(s.outputs("rename", out)["sound-picker"]) == "library:deeper-bass"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["deeper-bass.wav",
                                                                                    "deeper-bass.yaml"]
    with pytest.raises(gr.Error, match="factory presets cannot be changed"):
        s("rename", "factory:bass", "mine now", False)
    with pytest.raises(gr.Error, match=REFUSED):
        s("pick", "library:../deeper-bass")
    out = s("ask_delete", "library:deeper-bass")
    assert "Deeper bass" in s.outputs("ask_delete", out)["delete-confirm-text"]
    s("delete", "library:deeper-bass")
    assert [p for p in root.iterdir() if not p.name.startswith(".")] == []


def test_undo_reset_ab_randomize_snap_settings(local, loop):
    demo, _ = local
    s = Session(demo, loop)
    with pytest.raises(gr.Error, match="nothing to undo"):
        s("undo_change")
    s("pick", "factory:pad")
    out = s("pin_sound")
    assert "B: **pad**" in status_of(s, "pin_sound", out)
    s("pick", "factory:bass")
    out = s("swap_sounds")
    assert s.outputs("swap_sounds", out)["sound-name"] == "pad"
    assert "B: **bass**" in status_of(s, "swap_sounds", out)

    out = s("randomize_sound", "doppelgänger", 7)
    assert s.outputs("randomize_sound", out)["random-seed"] == 8
    with pytest.raises(gr.Error, match="less than minimum|random seed must be a whole number"):
        s("randomize_sound", "vary", -1)

    s("set_keyboard.midi_f0", 61.37)
    out = s("snap_to_semitones", True)
    midi_update = s.outputs("snap_to_semitones", out)["knob-keyboard-midi_f0"]
    assert midi_update["step"] == 1.0 and midi_update["value"] == 61.0

    out = s("change_settings", 1.0, 5)
    assert "1 s at 48 kHz, noise seed 5" in status_of(s, "change_settings", out)
    with pytest.raises(gr.Error, match="less than minimum|noise seed must be a whole number"):
        s("change_settings", 1.0, -3)

    before = int(re.search(r"undo (\d+)", status_of(s, "change_settings", out)).group(1))
    out = s("undo_change")
    assert f"undo {before - 1}" in status_of(s, "undo_change", out)
    out = s("reset_sound")
    assert status_of(s, "reset_sound", out).startswith("**bass**")  # the last loaded preset (swap does not load)


def test_a_knob_release_without_movement_is_not_a_change(local, loop):
    demo, _ = local
    s = Session(demo, loop)
    out = s("pick", "factory:lead")
    shown = s.outputs("pick", out)["knob-keyboard-midi_f0"]
    assert "undo 1" in status_of(s, "pick", out)
    s("set_keyboard.midi_f0", shown)  # the value the slider shows, released in place
    status = status_of(s, "pin_sound", s("pin_sound"))  # (pinning reports the status without changing the sound)
    assert "undo 1" in status and "modified" not in status
    s("set_keyboard.midi_f0", shown + 1.0)
    assert "undo 2" in status_of(s, "pin_sound", s("pin_sound"))


def test_export_writes_files_named_after_the_sound(local, loop):
    demo, _ = local
    s = Session(demo, loop)
    s("pick", "factory:bell")
    files = s.outputs("export", s("export", "Glass Bell #1", False, "the sound's own", "16"))["exports"]
    names = sorted(Path(f["path"]).name for f in files)
    assert names == ["glass-bell-1.wav", "glass-bell-1.yaml"]
    with pytest.raises(gr.Error, match="give the sound a name"):
        s("export", "  ", False, "the sound's own", "16")


def test_export_options_instrument_and_midi_file(local, loop, tmp_path):
    import io
    import zipfile

    import mido
    import soundfile

    s = Session(demo := local[0], loop)
    assert demo is not None
    s("pick", "factory:pluck")
    files = s.outputs("export", s("export", "Plk", True, "44100", "24"))["exports"]
    wav = next(Path(f["path"]) for f in files if f["path"].endswith(".wav"))
    info = soundfile.info(wav)
    assert (info.samplerate, info.subtype) == (44100, "PCM_24") and info.frames < 0.4 * 44100  # trimmed

    files = s.outputs("instrument", s("instrument", "Plk", "sfz", 12, "C3", "C5", "the sound's own", "16"))["exports"]
    with zipfile.ZipFile(files[0]["path"]) as archive:
        assert Path(files[0]["path"]).name == "plk.zip"
        assert archive.namelist() == ["plk.yaml", "plk.sfz", "samples/plk-C3.wav", "samples/plk-C4.wav",
                                      "samples/plk-C5.wav"]
    with pytest.raises(gr.Error, match=r"high must be a note from C-1 \(0\) to G9 \(127\)"):
        s("instrument", "Plk", "sfz", 12, "C3", "C 9000", "the sound's own", "16")

    song = mido.MidiFile(ticks_per_beat=480)
    song.tracks.append(mido.MidiTrack([mido.Message("note_on", note=n, velocity=100, time=0 if i == 0 else 240)
                                       for i, n in enumerate((60, 64, 67))] + [mido.Message("note_off", note=67)]))
    path = tmp_path / "tune.mid"
    song.save(path)
    upload = {"path": str(path), "orig_name": "tune.mid", "meta": {"_type": "gradio.FileData"}}
    out = s.outputs("play_midi_file", s("play_midi_file", upload, "the sound's own"))
    assert out["midi-info"].startswith("tune.mid through **pluck**: 3 notes")
    audio, rate = soundfile.read(out["midi-player"]["path"], dtype="int16")
    assert rate == 48000 and audio.shape[0] == round(0.81 * rate) and np.abs(audio).max() > 20000  # 0.5 s + 0.01 + tail
    path.write_bytes(io.BytesIO(b"MThd\x00\x00").getvalue())
    with pytest.raises(gr.Error, match="tune.mid: the MIDI file is corrupt"):
        s("play_midi_file", upload, "the sound's own")


def test_the_status_line_says_when_the_buffer_cuts_the_release(local, loop):
    s = Session(local[0], loop)
    out = s("pick", "factory:pad")  # 1.3 s held + 0.65 s release: ends inside its 2 s buffer
    assert "release cut" not in status_of(s, "pick", out)
    out = s("set_keyboard.duration", 3.0)
    assert "⚠ **release cut: raise duration**" in status_of(s, "set_keyboard.duration", out)


def test_public_sessions_are_isolated_even_against_forged_choices(public, loop):
    demo, root = public
    alice, bob = Session(demo, loop), Session(demo, loop)
    token = alice("on_page_load", new_session_token(), None)[1]  # a token the server did not sign is replaced
    assert token.startswith("v2.")
    bob("on_page_load", None, None)  # a browser without a stored token gets a fresh one
    alice("pick", "factory:bass")
    alice("save", "Alice only", "", False)
    with pytest.raises(gr.Error, match=REFUSED):
        bob("pick", "library:alice-only")  # bob sends alice's id: it names nothing he may choose
    with pytest.raises(gr.Error, match=REFUSED):
        bob("ask_delete", "library:alice-only")
    picker = bob.outputs("on_page_load", bob("on_page_load", None, None))["sound-picker"]
    labels = [label for label, _ in picker["choices"]]
    assert not any("Alice only" in label for label in labels)
    # Alice, back after a reload with the same stored token, sees her sound.
    again = Session(demo, loop)
    picker = again.outputs("on_page_load", again("on_page_load", token, None))["sound-picker"]
    labels = [label for label, _ in picker["choices"]]
    assert "saved · Alice only" in labels
    [folder] = (root / "sessions").iterdir()  # only a session that saved has a folder: looking writes nothing
    assert (folder / "alice-only.yaml").exists()
    assert not np.any([p.suffix == ".yaml" for p in root.iterdir()])  # nothing in the shared root


def test_command_line_and_environment(monkeypatch, tmp_path):
    from studio.ui.app import parse_args

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    args = parse_args([])
    assert (args.host, args.port, args.library, args.public) == ("127.0.0.1", 7860, None, None)
    args = parse_args(["--host", "0.0.0.0", "--port", "8000", "--library", str(tmp_path), "--public"])
    assert (args.host, args.port, args.library, args.public) == ("0.0.0.0", 8000, str(tmp_path), True)
    assert parse_args(["--private"]).public is False
    monkeypatch.setenv("SPACE_ID", "someone/synth-studio")
    assert parse_args([]).host == "0.0.0.0"  # a Space must listen on all interfaces
    monkeypatch.setenv("SYNTH_STUDIO_LIBRARY", str(tmp_path / "from-env"))
    config = make_config()
    assert config.public and config.library_root == str(tmp_path / "from-env") and config.token_key
    assert not make_config(tmp_path / "local", public=False).token_key


def test_only_user_mistakes_show_their_own_message_and_bugs_are_logged(caplog):
    """A StudioError (and an empty undo stack) is the user's to fix: its own words. Anything else is a bug: the
    browser gets the short internal-error line, never the exception's text, and the log gets the traceback."""

    @user_errors
    def mistaken():
        raise StudioError("the seed must be a whole number from 0 to 4294967295, got -1", "seed")

    @user_errors
    def buggy():
        raise KeyError("secret internals")

    with pytest.raises(gr.Error) as shown:
        mistaken()
    assert shown.value.message == "the seed must be a whole number from 0 to 4294967295, got -1"
    with caplog.at_level(logging.ERROR, logger="studio.ui.common"), pytest.raises(gr.Error) as shown:
        buggy()
    assert shown.value.message == INTERNAL_ERROR_MESSAGE
    [record] = [r for r in caplog.records if r.name == "studio.ui.common"]
    assert record.exc_info and record.exc_info[0] is KeyError
    assert "secret internals" in caplog.text and "Traceback" in caplog.text


def test_a_plain_value_error_is_a_bug_too(caplog):
    @user_errors
    def buggy():
        raise ValueError("operands could not be broadcast together")

    with caplog.at_level(logging.ERROR, logger="studio.ui.common"), pytest.raises(gr.Error) as shown:
        buggy()
    assert shown.value.message == INTERNAL_ERROR_MESSAGE and "broadcast" in caplog.text


def test_a_streamed_job_follows_the_same_rule(caplog):
    @streamed_user_errors
    def job(error):
        yield "first update"
        raise error

    stream = job(StudioError("every knob is locked: unlock at least one group to search"))
    assert next(stream) == "first update"
    with pytest.raises(gr.Error, match="every knob is locked"):
        next(stream)
    with caplog.at_level(logging.ERROR, logger="studio.ui.common"), pytest.raises(gr.Error) as shown:
        list(job(ZeroDivisionError("division by zero")))
    assert shown.value.message == INTERNAL_ERROR_MESSAGE and "ZeroDivisionError" in caplog.text


def test_a_job_runner_releases_its_stop_flag_however_the_job_ends():
    runner = JobRunner(max_results=2, update_interval_s=0.0)

    def failing(flag):
        yield SimpleNamespace(done=False)
        raise RuntimeError("boom")

    def show(report):
        assert runner.running("s")
        return {"shown": report}

    with pytest.raises(RuntimeError, match="boom"):
        list(runner.run("s", failing, show))
    assert not runner.running("s") and not runner.cancel("s")
    assert runner.keep(["c", "b"], ("a",)) == ("c", "b")  # newest first, cut to max_results


def test_macros_and_edits_in_words_are_undoable_steps(local, loop):
    """Issue 17: a macro slider let go moves the sound (one undo step) and says what moved; locks hold; an edit in
    words says what it understood and what changed; unknown words change nothing and are named."""
    from studio.explore.macros import measure
    from studio.presets import factory_preset

    demo, _ = local
    s = Session(demo, loop)
    s("pick", "factory:pad")
    before = measure(factory_preset("pad").theta, factory_preset("pad").settings)
    slider = s("macro_values")  # what the sliders show for the loaded sound: its measured values
    shown = {c.elem_id: v for c, v in zip(s.fns["macro_values"].outputs, slider)}
    assert value_of(shown["macro-brightness"]) == pytest.approx(before["brightness"], rel=1e-3)

    out = s("macro_length", round(before["length"] * 0.5, 3), [])
    o = s.outputs("macro_length", out)
    assert "**length**: length " in o["macro-note"] and "✓" in o["macro-note"]
    assert "undo 2" in o["status"] and "*modified*" in o["status"]  # the pick, then this move
    assert value_of(o["macro-length"]) == pytest.approx(before["length"] * 0.5, rel=0.15)  # re-measured
    out = s("undo_change")
    assert "undo 1" in status_of(s, "undo_change", out)

    locked = ["keyboard", "adsr_1", "adsr_2", "mixer", "mod_matrix", "lfo_1", "lfo_2", "lfo_1_amp_adsr",
              "lfo_2_amp_adsr", "lfo_1_rate_adsr", "lfo_2_rate_adsr", "vco_1", "vco_2"]
    out = s("macro_length", round(before["length"] * 0.5, 3), locked)
    assert "locked" in s.outputs("macro_length", out)["macro-note"]

    out = s("apply_words", "brighter and glorp", [])
    o = s.outputs("apply_words", out)
    assert o["edit-result"].startswith("⚠ not understood: 'glorp' — nothing changed")
    out = s("pin_sound")
    assert "undo 1" in status_of(s, "pin_sound", out)  # nothing was changed

    out = s("apply_words", "slightly darker", [])
    o = s.outputs("apply_words", out)
    assert o["edit-result"].startswith("**Understood:** slightly darker → brightness × 0.816")
    assert "**Changed:** brightness " in o["edit-result"] and "undo 2" in o["status"]
    assert value_of(o["macro-brightness"]) < before["brightness"]
