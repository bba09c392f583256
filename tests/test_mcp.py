"""The MCP server (issue 18): ``python app.py --mcp`` serves typed, documented tools at ``/gradio_api/mcp/``; the
``mcp`` client library lists them and drives the studio through them, against a served app, with the public
server's headers, limits and error messages."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import io

import numpy as np
import pytest
import soundfile

pytest.importorskip("mcp")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from studio.audio.io import to_int16  # noqa: E402
from studio.presets import dumps_preset, factory_preset, loads_preset  # noqa: E402
from studio.synth import PARAM_INDEX, render  # noqa: E402
from studio.ui import mcp_tools  # noqa: E402
from studio.ui.app import make_config, parse_args, serve_in_background  # noqa: E402
from studio.ui.views import AUDIO_GAIN  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    demo = serve_in_background(make_config(tmp_path_factory.mktemp("library"), public=True, mcp=True))
    try:
        yield demo.local_url.rstrip("/") + mcp_tools.MCP_PATH + "/"
    finally:
        demo.close()


def call(url: str, *requests):
    """Open an MCP session at ``url``, list the tools, then make each ``(tool, arguments)`` call; returns
    (tools, results)."""
    async def session():
        async with streamable_http_client(url) as streams:
            async with ClientSession(streams[0], streams[1]) as client:
                await client.initialize()
                tools = (await client.list_tools()).tools
                return tools, [await client.call_tool(name, arguments) for name, arguments in requests]

    return asyncio.run(session())


def audio_of(result) -> tuple[np.ndarray, int]:
    [content] = [c for c in result.content if c.type == "audio"]
    assert content.mime_type == "audio/wav"
    audio, rate = soundfile.read(io.BytesIO(base64.b64decode(content.data)), dtype="int16")
    return audio, rate


def texts_of(result) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]


def expected_int16(preset) -> np.ndarray:
    return to_int16(np.asarray(render(preset.theta, preset.settings)), gain=AUDIO_GAIN)


def test_the_tools_are_listed_typed_and_documented(server):
    tools, _ = call(server)
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == set(mcp_tools.TOOLS)
    for tool in tools:
        assert len(tool.description) > 40, tool.name  # what the tool does and what it returns
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description") and (schema.get("type") or schema.get("enum")), (tool.name, name)
    prompt = by_name["sound_from_prompt"].input_schema
    assert prompt["required"] == ["prompt"] and prompt["properties"]["budget"]["enum"] == ["quick", "standard",
                                                                                           "paper"]
    assert prompt["properties"]["seed"]["type"] == "integer"
    assert by_name["make_variations"].input_schema["properties"]["count"]["maximum"] == mcp_tools.MAX_VARIATIONS
    assert "ctx" not in by_name["make_variations"].input_schema["properties"]  # the request context is not an input


def test_a_render_through_mcp_returns_the_synth_s_audio(server):
    bass = factory_preset("bass")
    pad = factory_preset("pad")
    theta = pad.theta.copy()
    theta[PARAM_INDEX["keyboard.midi_f0"]] = 0.4  # a knob changed in a preset's text
    edited = dataclasses.replace(pad, name="my pad", theta=theta)
    _, (by_name, by_text, listed) = call(server, ("render_preset", {"preset_name": "bass"}),
                                         ("render_preset_file", {"preset": dumps_preset(edited, "json")}),
                                         ("list_presets", {}))
    assert not by_name.is_error and not by_text.is_error
    audio, rate = audio_of(by_name)
    assert rate == bass.settings.sample_rate and np.array_equal(audio, expected_int16(bass))  # as /render_preset
    assert loads_preset(texts_of(by_name)[0]).theta.tolist() == bass.theta.tolist()  # and its preset, to edit
    audio, _ = audio_of(by_text)
    assert np.array_equal(audio, expected_int16(edited)) and not np.array_equal(audio, expected_int16(pad))
    assert texts_of(listed)[0].splitlines()[0].startswith("alarm: ")


def test_long_jobs_through_mcp_chain_presets(server):
    t = np.arange(48_000) / 48_000
    wav = io.BytesIO()
    soundfile.write(wav, (0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)).astype(np.float32), 48_000,
                    format="WAV", subtype="PCM_16")
    _, (prompt, varied, morph, match) = call(
        server, ("sound_from_prompt", {"prompt": "short bright pluck", "seed": 1}),
        ("make_variations", {"preset": "bell", "count": 2, "delta": 0.3, "seed": 4}),
        ("morph_presets", {"preset_a": "bass", "preset_b": "bell", "steps": 3}),
        ("match_sound", {"target": base64.b64encode(wav.getvalue()).decode()}))
    for result in (prompt, varied, morph, match):
        assert not result.is_error, texts_of(result)
    found = loads_preset(texts_of(prompt)[0])  # the found sound's preset: its audio is what was sent
    assert found.prompt == "short bright pluck" and "score" in texts_of(prompt)[1]
    assert np.array_equal(audio_of(prompt)[0], expected_int16(found))
    audio, rate = audio_of(varied)  # two variations, one after the other
    gap = int(mcp_tools.GAP_S * rate)
    assert len(audio) == 2 * (96_000 + gap) and texts_of(varied)[0].count("format_version: 1") == 2
    assert "perceptual distance" in texts_of(varied)[0]
    assert len(audio_of(morph)[0]) == 3 * (96_000 + gap)
    assert "loss" in texts_of(match)[1] and loads_preset(texts_of(match)[0]).name == "match"


def test_mistakes_come_back_as_readable_tool_errors(server):
    huge = dataclasses.replace(factory_preset("bass"), settings=dataclasses.replace(
        factory_preset("bass").settings, sample_rate=192_000, duration=29.0))
    _, results = call(server, ("render_preset", {"preset_name": "bas"}),
                      ("render_preset_file", {"preset": "name: x\nparams: {}\n"}),
                      ("render_preset_file", {"preset": dumps_preset(huge)}),
                      ("make_variations", {"preset": "bass", "count": 99}),
                      ("match_sound", {"target": "not base64!"}))
    messages = [" ".join(texts_of(r)) for r in results]
    assert all(r.is_error for r in results), messages
    assert "no preset named 'bas'; did you mean bass" in messages[0]
    assert "preset" in messages[1] and "Traceback" not in messages[1]
    assert "this public studio renders at 48 kHz" in messages[2]  # an unoffered render shape is never compiled
    assert "count" in messages[3]
    assert "not base64" in messages[4]


def test_the_public_server_s_headers_cover_the_mcp_endpoint(server):
    import httpx

    reply = httpx.post(server, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                       headers={"accept": "application/json, text/event-stream"}, timeout=30)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors" in reply.headers["content-security-policy"]


def test_mcp_is_switched_on_by_the_flag_or_gradio_s_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADIO_MCP_SERVER", raising=False)
    assert parse_args(["--mcp"]).mcp and parse_args([]).mcp is None
    assert not make_config(tmp_path, public=False).mcp
    monkeypatch.setenv("GRADIO_MCP_SERVER", "True")
    assert make_config(tmp_path, public=False).mcp and not make_config(tmp_path, public=False, mcp=False).mcp
