"""Every way a sound is loaded leaves the library panel's name box, tags box and Sound picker showing *that* sound
(issue 12, item 3): the handlers of the real app (built, not served) are called with real files, and their values
are read by the component they go to."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from studio.library import Library
from studio.presets import factory_preset, load_preset, save_preset
from studio.ui import state as st
from studio.ui.app import build_app, initial_sound, make_config
from studio.ui.jobs import open_in_synth
from studio.ui.synth_panel import redo_change, reset_sound, undo_change


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    demo = build_app(make_config(root, public=False))
    return demo, root


def handler(demo, name: str):
    """(fn, inputs, outputs) of the app's event handler called ``name`` (the only one of that name)."""
    found = [f for f in demo.fns.values() if getattr(f.fn, "__name__", None) == name]
    assert len(found) == 1, f"{len(found)} handlers named {name}"
    return found[0].fn, found[0].inputs, found[0].outputs


def by_id(components, elem_id: str):
    return next(c for c in components if getattr(c, "elem_id", None) == elem_id)


def shown(outputs, values) -> dict:
    """What a load handler shows in the library panel: name, tags, picker value (and the new state)."""
    values = dict(zip(outputs, values))
    state = next(v for k, v in values.items() if isinstance(v, st.StudioState))
    picker = values[by_id(outputs, "sound-picker")]
    return {"name": values[by_id(outputs, "sound-name")], "tags": values[by_id(outputs, "sound-tags")],
            "picker": picker.get("value") if isinstance(picker, dict) else picker, "state": state}


def good_pluck(folder) -> str:
    preset = dataclasses.replace(factory_preset("pluck"), name="good-pluck", tags=("pluck", "tonal", "percussive"))
    return str(save_preset(preset, folder / "good-pluck.yaml"))


def saved_previous(root) -> tuple[st.StudioState, str]:
    """A session whose current sound was picked from the library: "Previous" tagged test, pluck, ui."""
    previous = dataclasses.replace(factory_preset("pad"), name="Previous", tags=("test", "pluck", "ui"))
    Library(root).save(previous, np.zeros(10, np.float32), previous.settings.sample_rate, overwrite=True)
    return st.initial_state(initial_sound()), "library:previous"


def test_import_then_save_writes_the_imported_sounds_tags(app, tmp_path):
    demo, root = app
    state, choice = saved_previous(root)
    pick, inputs, outputs = handler(demo, "pick")
    picked = shown(outputs, pick(choice, state))
    assert (picked["name"], picked["tags"], picked["picker"]) == ("Previous", "test, pluck, ui", choice)

    upload, _, outputs = handler(demo, "upload")
    loaded = shown(outputs, upload(good_pluck(tmp_path), picked["state"]))
    assert loaded["name"] == "good-pluck"
    assert loaded["tags"] == "pluck, tonal, percussive"
    assert loaded["picker"] is None  # the picker no longer names "Previous"

    save, _, _ = handler(demo, "save")
    save(loaded["state"], loaded["name"], loaded["tags"], False, 0)
    assert load_preset(root / "good-pluck.yaml").tags == ("pluck", "tonal", "percussive")


def test_every_load_path_shows_the_loaded_sounds_name_tags_and_picker(app, tmp_path):
    demo, root = app
    state, choice = saved_previous(root)
    pick, _, outputs = handler(demo, "pick")
    state = shown(outputs, pick(choice, state))["state"]
    found = dataclasses.replace(factory_preset("bass"), name="prompt result", tags=("prompt", "deep"))

    opened = shown(outputs, open_in_synth(found, state))  # prompt, match: Open in synth
    assert (opened["name"], opened["tags"], opened["picker"]) == ("prompt result", "prompt, deep", None)

    adopt, _, adopt_outputs = handler(demo, "adopt_variations_1")  # variations (morph adopts the same way)
    assert adopt_outputs == outputs
    adopted = shown(outputs, adopt(opened["state"], (found,)))
    assert (adopted["name"], adopted["tags"], adopted["picker"]) == ("prompt result", "prompt, deep", None)

    undone = shown(outputs, undo_change(opened["state"]))  # back to the picked library sound
    assert (undone["name"], undone["tags"]) == ("Previous", "test, pluck, ui")
    assert undone["picker"] in (choice, None)  # never a different sound
    redone = shown(outputs, redo_change(undone["state"]))
    assert (redone["name"], redone["tags"], redone["picker"]) == ("prompt result", "prompt, deep", None)

    pad = factory_preset("pad")
    on_pad = shown(outputs, open_in_synth(pad, redone["state"]))  # a factory preset is recognized
    assert (on_pad["name"], on_pad["tags"], on_pad["picker"]) == ("pad", ", ".join(pad.tags), "factory:pad")
    reset = shown(outputs, reset_sound(on_pad["state"]))  # reset: back to the picked "Previous"
    assert (reset["name"], reset["tags"]) == ("Previous", "test, pluck, ui")

    open_map, _, map_outputs = handler(demo, "open_in_synth")  # the map's Open in synth
    assert map_outputs == outputs
    mapped = shown(outputs, open_map(reset["state"], "factory:bass"))
    assert (mapped["name"], mapped["tags"], mapped["picker"]) == ("bass", ", ".join(factory_preset("bass").tags),
                                                                  "factory:bass")


def test_every_handler_that_loads_a_whole_sound_updates_name_tags_and_picker(app):
    """No load path can forget them: every event that sets the sliders also sets the name, tags and picker."""
    demo, _ = app
    checked = 0
    for f in demo.fns.values():
        ids = {getattr(c, "elem_id", None) for c in f.outputs}
        if any((i or "").startswith("knob-") for i in ids) and "sound-name" in ids:
            assert {"sound-tags", "sound-picker"} <= ids, f.fn.__name__
            checked += 1
    assert checked >= 8, checked
