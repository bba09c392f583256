"""The studio as an MCP server: typed, documented tools an assistant can call to drive the studio
(``python app.py --mcp`` or ``GRADIO_MCP_SERVER=True``; served at ``/gradio_api/mcp/``, streamable HTTP).

Tools: ``list_presets``, ``render_preset`` (a factory preset by name), ``render_preset_file`` (a preset file's
text, YAML or JSON), ``sound_from_prompt`` (CTAG's search), ``match_sound`` (a sound sent as base64), and
``make_variations`` and ``morph_presets``. Sounds come back as MCP audio content (an int16 WAV at the studio's fixed
gain, exactly what ``/render_preset`` serves), presets as the text of a preset file, which every tool that takes a
``preset`` reads back: an assistant chains them (prompt → variations → change a knob's value → render).

Why not Gradio's own ``mcp_server=True``: Gradio 6.31's integration is written against the ``mcp`` 1.x server API
(``Server.call_tool`` decorators) and fails to start with the pinned ``mcp`` 2.3 (``'Server' object has no attribute
'call_tool'``); so the studio builds its server with ``mcp``'s own :class:`~mcp.server.MCPServer` (schemas from the
type hints, descriptions from the docstrings and ``Field`` descriptions) and mounts it on Gradio's app, where the
studio's HTTP middleware applies to it as to every request: security headers and, in public mode, the per-address
request rate (every MCP message is a POST). Inside, the public server's limits hold as for the page: renders go
through :func:`studio.ui.views.render_audio` (the render slots or the batcher, and only the render shapes the studio
offers); searches, matches, variations and morphs wait in the long-job gate (``studio.ui.jobs.GATE``, per address,
per kind, in all), each call as a page of its own; a target sound is at most ``MAX_TARGET_BYTES``; tool calls run
in threads of their own (``TOOL_THREADS``), so a flood of them never takes the threads the page's events run in.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import io
import logging
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from mcp.server.mcpserver import Context
from pydantic import Field

from studio.checks import check_seed
from studio.errors import INTERNAL_ERROR_MESSAGE, StudioError
from studio.presets import Preset, dumps_preset, factory_preset, factory_presets, loads_preset
from studio.synth import RenderSettings
from studio.ui.jobs import GATE
from studio.ui.views import AUDIO_GAIN, check_render_shape, render_audio, wait_for_warm_up

log = logging.getLogger(__name__)

MCP_PATH = "/gradio_api/mcp"  # where Gradio's own integration would serve it
MAX_VARIATIONS = 8
MAX_STEPS = 8
GAP_S = 0.25  # silence between the sounds of a set in one WAV
MAX_PRESET_TEXT = 20_000  # characters (a preset file is ~3.6 kB)
MAX_TARGET_BYTES = 10 * 2**20  # as the page's uploads (launch's max_file_size)
MAX_REQUEST_BYTES = 16 * 2**20  # a base64 target of MAX_TARGET_BYTES and the message around it
TOOL_THREADS = 8  # tool calls running (or waiting in the job gate) at once; more wait for a thread
TOOLS = ("list_presets", "render_preset", "render_preset_file", "sound_from_prompt", "match_sound",
         "make_variations", "morph_presets")
INSTRUCTIONS = (
    "The synth sketch studio: a 78-knob synthesizer (torchsynth's Voice patch) rendered in JAX. Every sound is a "
    "preset: 78 knob values plus render settings. Start from a factory preset (list_presets, render_preset), a "
    "text prompt (sound_from_prompt) or a recording (match_sound); explore with make_variations and morph_presets; "
    "edit a knob's value in a preset's text and hear it with render_preset_file. Sounds come back as WAV audio, "
    "presets as the text of a preset file (YAML, human units with the unit in a comment).")

PresetText = Annotated[str, Field(
    description="a factory preset's name (see list_presets), or the whole text of a preset file (YAML or JSON), "
                "as render_preset_file, sound_from_prompt, match_sound, make_variations and morph_presets return it",
    max_length=MAX_PRESET_TEXT)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, description="the random seed: the same seed gives the same result")]


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def mcp_session() -> str:
    """A long-job session of its own for each tool call (the gate's per-page limits then apply per call; its
    per-address limits to every call from one address)."""
    return f"mcp-{uuid.uuid4().hex[:12]}"


def read_preset(preset: str, field: str = "preset") -> Preset:
    """A factory preset's name, or a whole preset file's text (YAML or JSON), as a :class:`Preset` whose render
    shape this studio renders; ``StudioError`` naming ``field`` otherwise."""
    text = (preset or "").strip()
    if not text:
        raise StudioError(f"{field}: give a factory preset's name (list_presets) or a preset file's text", field)
    if len(text) > MAX_PRESET_TEXT:
        raise StudioError(f"{field}: the preset text is {len(text)} characters long (at most {MAX_PRESET_TEXT})",
                          field)
    if "\n" not in text and ":" not in text and not text.startswith("{"):
        return factory_preset(text)  # "no preset named …; did you mean …"
    found = loads_preset(text, source=field)  # PresetError (a StudioError) names the field at fault
    check_render_shape(found.settings)
    return found


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """An int16 WAV of ``audio`` at the studio's fixed gain: the very samples ``/render_preset`` serves."""
    import soundfile

    from studio.audio.io import to_int16

    buffer = io.BytesIO()
    soundfile.write(buffer, to_int16(np.asarray(audio), gain=AUDIO_GAIN), int(sample_rate), format="WAV",
                    subtype="PCM_16")
    return buffer.getvalue()


def one_after_another(sounds, sample_rate: int) -> np.ndarray:
    """Sounds ``[N, T]`` in one buffer, each followed by ``GAP_S`` of silence."""
    gap = np.zeros(int(GAP_S * sample_rate), np.float32)
    return np.concatenate([part for sound in sounds for part in (np.asarray(sound, np.float32), gap)])


def preset_texts(presets, notes) -> str:
    """Several presets as text: for each, a comment line naming it (and its note), then its preset file's text."""
    return "\n".join(f"# --- {i}. {preset.name}: {note}\n{dumps_preset(preset)}"
                     for i, (preset, note) in enumerate(zip(presets, notes), start=1))


def decode_target(data: str) -> bytes:
    """The target sound's bytes from base64 text (a ``data:`` URL's prefix is skipped); ``StudioError`` otherwise."""
    text = (data or "").strip()
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    if not text:
        raise StudioError("send the sound to match as base64 text", "target")
    if len(text) > MAX_TARGET_BYTES * 4 // 3 + 8:
        raise StudioError(f"the sound to match is larger than {MAX_TARGET_BYTES // 2**20} MB", "target")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise StudioError("the sound to match is not base64 text", "target") from None


# ---------------------------------------------------------------------------------------------------------------
# The tools as plain functions (tests call them directly). Each returns MCP content: audio, then text.


def list_presets() -> str:
    """The factory presets: one line each, with its name, tags and description."""
    return "\n".join(f"{p.name}: {', '.join(p.tags)} — {p.description}" for p in factory_presets())


def render_preset(preset_name: str) -> tuple:
    preset = factory_preset((preset_name or "").strip())
    return _audio(render_audio(preset), preset.settings.sample_rate), dumps_preset(preset)


def render_preset_file(preset: str) -> tuple:
    found = read_preset(preset)
    return (_audio(render_audio(found), found.settings.sample_rate),)


def sound_from_prompt(prompt: str, budget: str = "quick", seed: int = 0, client: str | None = None) -> tuple:
    from studio.scoring.base import cut_prompt
    from studio.search import PromptObjective, budget_for, run_to_end, search, to_preset
    from studio.ui.prompt_panel import current_scorer, short_name

    text, _ = cut_prompt(prompt)
    seed = check_seed(seed)
    scorer = current_scorer()
    settings = RenderSettings()
    objective = PromptObjective(scorer, text, settings)  # reads the prompt: refused here when not understood
    plan = budget_for(budget, scorer)
    with GATE.turn(mcp_session(), "prompt", client=client):
        wait_for_warm_up()
        final = run_to_end(search(objective, plan, seed=seed))
    if final is None or not final.results:
        raise StudioError("the search found nothing", "prompt")
    best = final.results[0]
    preset = to_preset(best, objective, strategy=plan.strategy, budget=plan.name, name=short_name(text))
    summary = (f"“{text}”: score {best.score:.3f} by {scorer.label}; {final.evaluations} sounds judged in "
               f"{final.elapsed_s:.1f} s ({plan.name} budget, seed {seed}).")
    return _audio(render_audio(preset), settings.sample_rate), dumps_preset(preset), summary


def match_sound(target: str, budget: str = "quick", seed: int = 0, client: str | None = None) -> tuple:
    from studio.audio.target import load_target
    from studio.search import run_to_end
    from studio.search.match import match_plan, to_preset
    from studio.search.match import match_sound as match_search

    raw = decode_target(target)
    seed = check_seed(seed)
    settings = RenderSettings()
    plan = match_plan(budget)
    with tempfile.TemporaryDirectory(prefix="synth-studio-mcp-") as folder:
        path = Path(folder) / "target"
        path.write_bytes(raw)
        loaded = load_target(str(path), settings.sample_rate, settings.duration, name="the target")
    with GATE.turn(mcp_session(), "match", client=client):
        wait_for_warm_up()
        final = run_to_end(match_search(loaded, settings=settings, budget=plan, seed=seed))
    if final is None or not final.results:
        raise StudioError("the match found nothing", "target")
    best = final.results[0]
    preset = to_preset(best, loaded, settings, budget=plan.budget.name, strategy=plan.budget.strategy, name="match")
    summary = (f"Best loss {best.loss:.3f} (a random sound scores about 1; the first random batch's best was "
               f"{final.first_loss:.3f}); {final.evaluations} sounds judged in {final.elapsed_s:.1f} s.")
    return _audio(render_audio(preset), settings.sample_rate), dumps_preset(preset), summary


def make_variations(preset: str, count: int = 4, delta: float = 0.25, seed: int = 0,
                    client: str | None = None) -> tuple:
    from studio.explore import variations_of

    original = read_preset(preset)
    seed = check_seed(seed)
    wait_for_warm_up()
    with GATE.turn(mcp_session(), "variations", client=client):
        found = variations_of(original, float(delta), int(count), seed)
    sr = original.settings.sample_rate
    notes = [f"perceptual distance {d:.2f} to {original.name}" for d in found.distances]
    return _audio(one_after_another(found.audio, sr), sr), preset_texts(found.presets, notes)


def morph_presets(preset_a: str, preset_b: str, steps: int = 5, mode: str = "linear",
                  client: str | None = None) -> tuple:
    from studio.explore import strip_between

    a, b = read_preset(preset_a, "preset_a"), read_preset(preset_b, "preset_b")
    wait_for_warm_up()
    with GATE.turn(mcp_session(), "morph", client=client):
        strip, presets = strip_between(a, b, int(steps), mode)
    sr = a.settings.sample_rate
    notes = [f"t {t:.2f} of the way from A to B along the knobs" for t in strip.positions]
    return _audio(one_after_another(strip.audio, sr), sr), preset_texts(presets, notes)


def _audio(audio: np.ndarray, sample_rate: int):
    from mcp.server.mcpserver.utilities.types import Audio

    return Audio(data=wav_bytes(audio, sample_rate), format="wav")


# ---------------------------------------------------------------------------------------------------------------
# The server


def build_server(host: str = "127.0.0.1"):
    """The studio's MCP server (``mcp.server.MCPServer``) with its tools. ``host``: the interface the studio listens
    on; on 127.0.0.1 the server accepts only requests addressed to localhost (DNS-rebinding protection)."""
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("synth-sketch-studio", title="Synth sketch studio", instructions=INSTRUCTIONS)
    threads = anyio.CapacityLimiter(TOOL_THREADS)

    async def call(fn, ctx: Context | None = None, /, **kwargs):
        """Run a tool function in a thread of the tools' own; user mistakes become tool errors with the studio's
        message, defects the internal-error line (logged with their traceback)."""
        if ctx is not None:
            kwargs["client"] = client_address(ctx)
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, **kwargs), limiter=threads)
        except StudioError as error:
            raise ToolError(str(error)) from None
        except Exception:
            log.exception("internal error in the MCP tool %s", fn.__name__)
            raise ToolError(INTERNAL_ERROR_MESSAGE) from None

    tool = functools.partial(server.tool, structured_output=False)

    @tool(name="list_presets")
    async def list_presets_tool() -> str:
        """List the studio's factory presets: one line each with its name, tags and a description."""
        return await call(list_presets)

    @tool(name="render_preset")
    async def render_preset_tool(
            preset_name: Annotated[str, Field(description="a factory preset's name, e.g. bass, bell or laser "
                                                          "(see list_presets)", max_length=80)]) -> list:
        """Render a factory preset with its own settings. Returns the sound (an int16 WAV at the studio's fixed
        gain) and the preset file's text."""
        return list(await call(render_preset, preset_name=preset_name))

    @tool(name="render_preset_file")
    async def render_preset_file_tool(preset: PresetText) -> list:
        """Render a preset file given as text (YAML or JSON: for instance a preset another tool returned, with a
        knob's value changed), or a factory preset's name. Returns the sound (an int16 WAV at the studio's fixed
        gain)."""
        return list(await call(render_preset_file, preset=preset))

    @tool(name="sound_from_prompt")
    async def sound_from_prompt_tool(
            prompt: Annotated[str, Field(description='what the sound should be like, e.g. "short bright pluck" '
                                                     'or "low rumbling drone"', min_length=1, max_length=500)],
            ctx: Context,
            budget: Annotated[Literal["quick", "standard", "paper"], Field(
                description="how long to search: quick (seconds), standard, or paper (CTAG's budget: minutes "
                            "with CLAP)")] = "quick",
            seed: Seed = 0) -> list:
        """Find the synth sound that best fits a text prompt (CTAG's search: Learned ES, judged by LAION-CLAP where
        its weights are installed, else by an offline word scorer). Returns the sound (WAV), its preset file's
        text and a line saying how well it scored."""
        return list(await call(sound_from_prompt, ctx, prompt=prompt, budget=budget, seed=seed))

    @tool(name="match_sound")
    async def match_sound_tool(
            target: Annotated[str, Field(description="the sound to match: a WAV, FLAC, OGG or MP3 file as base64 "
                                                     f"text (at most {MAX_TARGET_BYTES // 2**20} MB; its first 2 s "
                                                     "are matched)")],
            ctx: Context,
            budget: Annotated[Literal["quick", "standard", "paper"], Field(
                description="how long to search: quick (seconds), standard or paper")] = "quick",
            seed: Seed = 0) -> list:
        """Program the synth to sound like a recording: the knobs whose sound comes closest to it (a
        multi-resolution spectral loss, pitch and note length measured first). Returns the match (WAV), its
        preset file's text and its loss (about 1 for a random sound, 0 for the same sound)."""
        return list(await call(match_sound, ctx, target=target, budget=budget, seed=seed))

    @tool(name="make_variations")
    async def make_variations_tool(
            preset: PresetText, ctx: Context,
            count: Annotated[int, Field(ge=1, le=MAX_VARIATIONS, description="how many variations")] = 4,
            delta: Annotated[float, Field(ge=0.0, le=1.0, description="the step size: 0.25 keeps a recognizable "
                                                                      "relative, 1 is far")] = 0.25,
            seed: Seed = 0) -> list:
        """Make variations (doppelgängers) of a preset: every knob takes a random Gaussian step of size delta.
        Returns them in one WAV, one after another with 0.25 s of silence between them, and their preset files'
        text, each after a comment line with its name and its perceptual distance to the original (1.0 ≈ two
        unrelated sounds)."""
        return list(await call(make_variations, ctx, preset=preset, count=count, delta=delta, seed=seed))

    @tool(name="morph_presets")
    async def morph_presets_tool(
            preset_a: PresetText, preset_b: PresetText, ctx: Context,
            steps: Annotated[int, Field(ge=2, le=MAX_STEPS, description="sounds in the strip (the first is A, "
                                                                        "the last B)")] = 5,
            mode: Annotated[Literal["linear", "even"], Field(
                description="linear: equal knob distances; even: equal perceptual distances between "
                            "neighbours")] = "linear") -> list:
        """Morph between two presets: a strip of sounds along the straight line between their knobs, with A's
        render settings. Returns the strip in one WAV, step after step with 0.25 s of silence between them, and
        the steps' preset files' text."""
        return list(await call(morph_presets, ctx, preset_a=preset_a, preset_b=preset_b, steps=steps, mode=mode))

    local = host in ("127.0.0.1", "localhost", "::1")
    app = server.streamable_http_app(streamable_http_path="/", stateless_http=True,
                                     max_request_body_size=MAX_REQUEST_BYTES, host=host if local else "0.0.0.0")
    return server, app


def client_address(ctx) -> str | None:
    """The address a tool call is charged to (as the page's requests: :func:`studio.ui.disk.client_key`)."""
    from studio.ui.disk import client_key

    request = getattr(ctx.request_context, "request", None)
    scope = getattr(request, "scope", None)
    return client_key(scope) if isinstance(scope, dict) else None


def app_kwargs(kwargs: dict, host: str = "127.0.0.1") -> dict:
    """``launch(app_kwargs=…)`` with the MCP server added: Gradio's app gets a lifespan that mounts the server at
    ``MCP_PATH`` and runs its session manager while the app runs (a mounted app's own lifespan would not run)."""
    from starlette.routing import Mount

    before = kwargs.get("lifespan")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # A server per start: Gradio starts the app again on the next port when one is taken, and a session
        # manager runs only once.
        server, mcp_app = build_server(host)
        mount = Mount(MCP_PATH, app=mcp_app)
        app.router.routes.insert(0, mount)
        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(server.session_manager.run())
                if before is not None:
                    await stack.enter_async_context(before(app))
                yield
        finally:
            if mount in app.router.routes:
                app.router.routes.remove(mount)

    return {**kwargs, "lifespan": lifespan}
