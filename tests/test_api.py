"""The studio's programmatic API through ``gradio_client``: render presets and get back exactly what the synth
renders (int16 at the studio's fixed gain), with readable errors, and no other endpoint exposed."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile

gradio_client = pytest.importorskip("gradio_client")

from studio.audio.io import to_int16  # noqa: E402
from studio.presets import dumps_preset, factory_preset, factory_presets  # noqa: E402
from studio.synth import PARAM_INDEX, render  # noqa: E402
from studio.ui.app import make_config, serve_in_background  # noqa: E402
from studio.ui.views import AUDIO_GAIN  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    demo = serve_in_background(make_config(tmp_path_factory.mktemp("library"), public=True))
    try:
        yield gradio_client.Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def expected_int16(preset) -> np.ndarray:
    return to_int16(np.asarray(render(preset.theta, preset.settings)), gain=AUDIO_GAIN)


def read_int16(path) -> tuple[np.ndarray, int]:
    audio, sr = soundfile.read(path, dtype="int16")
    return audio, sr


def test_only_the_render_endpoints_are_exposed(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == {"/render_preset", "/render_preset_file", "/list_presets"}
    assert not info["unnamed_endpoints"]  # no library endpoint reachable by a program, in public mode least of all


def test_list_presets(client):
    assert client.predict(api_name="/list_presets") == [p.name for p in factory_presets()]


def test_render_preset_matches_the_synth(client):
    for name in ("bass", "hihat"):  # a tonal sound and a noisy one (noise seeds must match too)
        preset = factory_preset(name)
        audio, sr = read_int16(client.predict(name, api_name="/render_preset"))
        assert sr == preset.settings.sample_rate
        assert np.array_equal(audio, expected_int16(preset)), name


def test_render_preset_file_matches_the_synth(client, tmp_path):
    base = factory_preset("pad")
    theta = base.theta.copy()
    theta[PARAM_INDEX["keyboard.midi_f0"]] = 0.4
    preset = dataclasses.replace(base, name="my pad", theta=theta)
    path = tmp_path / "my-pad.yaml"
    path.write_text(dumps_preset(preset))
    audio, _ = read_int16(client.predict(gradio_client.handle_file(str(path)), api_name="/render_preset_file"))
    assert np.array_equal(audio, expected_int16(preset))
    assert not np.array_equal(audio, expected_int16(base))


def test_errors_are_readable(client, tmp_path):
    with pytest.raises(Exception, match="no preset named 'bas'; did you mean bass"):
        client.predict("bas", api_name="/render_preset")
    bad = tmp_path / "bad.yaml"
    bad.write_text(dumps_preset(factory_preset("bass")).replace("noise_seed: 0", "noise_seed: -1"))
    with pytest.raises(Exception, match=r"bad\.yaml: settings\.noise_seed"):
        client.predict(gradio_client.handle_file(str(bad)), api_name="/render_preset_file")
