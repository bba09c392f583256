"""The studio's Gradio app: layout top to bottom, panels wired next to their components, and the entry point.

``python app.py [--host H] [--port P] [--library DIR] [--public|--private]`` serves it (default
http://127.0.0.1:7860). Named API endpoints for ``gradio_client``: ``/render_preset`` (a factory preset's name →
WAV), ``/render_preset_file`` (a preset file → WAV) and ``/list_presets``; with ``--mcp`` (or
``GRADIO_MCP_SERVER=True``) also the MCP server's tools (:mod:`studio.ui.mcp_tools`).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from concurrent.futures import Future
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from studio import hosting
from studio.background import READY_LINE, freeze_after_preparations
from studio.explore import warm_up_umap
from studio.legacy_token import legacy_secret
from studio.library import default_library_root, import_preset, load_or_create_secret, public_mode
from studio.presets import factory_preset, factory_presets
from studio.synth import RenderSettings, default_theta
from studio.ui import (explore_panel, export_panel, library_panel, macro_panel, map_panel, match_panel, prompt_panel,
                       synth_panel)
from studio import limits as studio_limits
from studio.ui import disk, http, sessions
from studio.ui.keyboard_panel import page_script
from studio.ui import state as st
from studio.ui.common import DURATIONS, RENDER_GROUP, Config, Studio, player_audio, user_errors
from studio.ui.jobs import GATE, long_job_limits
from studio.ui.payloads import guard_inputs
from studio.ui.views import accept_only, batch_renders, limit_renders, render_audio, start_warm_up, to_player

DEFAULT_PORT = 7860
# Beyond this many waiting events, new requests are refused at once instead of waiting minutes. Gradio counts every
# event in one pool, so long jobs never wait in it: they start at once and jobs.GATE orders or refuses them.
QUEUE_MAX_SIZE = 64

INTRO = """# Synth sketch studio
Every knob of the 78-parameter *Voice* synthesizer (torchsynth's patch, as used by SynthAX and CTAG), rendered
in JAX. Pick a sound in the [library](#library-column), move a [knob](#knob-panel) and let go to hear it; save what
you like. [Tools](#tools) make new sounds: prompt, variations, morph, map and match."""

CSS = """
#status { font-size: 0.9em; }
#spectrogram-image img, #waveform-image img { image-rendering: auto; }
.knob input[type=number] { max-width: 6em; }  /* room for the label in narrow columns (the matrix) */
/* The knob panel beside the player scrolls by itself, so the player, the library and the tools stay in reach. */
#knob-panel { max-height: calc(100vh - 24px); overflow-y: auto; position: sticky; top: 12px;
              align-self: flex-start; flex-wrap: nowrap; }
#knob-panel > * { flex: none; }  /* sections keep their height; the panel scrolls */
#pitch-note { margin-top: -8px; padding: 0 12px; }
#pitch-note p { margin: 0; }
/* The pictures' labels sit above the pictures, not on them (on a phone the overlay hid half the spectrogram). */
#spectrogram-image [data-testid=block-label], #waveform-image [data-testid=block-label] { position: static;
    margin-bottom: 4px; box-shadow: none; }
@media (max-width: 640px) { #knob-panel { max-height: 75vh; position: static; } }
"""


def initial_sound():
    """The sound a new session starts with: the studio's default patch (audible, plain)."""
    from studio.presets import Preset

    return Preset(name="init", theta=default_theta(), settings=RenderSettings(), tags=("init",))


def public_render_settings() -> list:
    """The render shapes a public studio accepts: the studio's rate and control rate with the buffer lengths
    its menu offers, and the factory presets' own settings (any other shape would compile a new renderer)."""
    base = RenderSettings()
    return [*(dataclasses.replace(base, duration=float(d)) for d in DURATIONS),
            *(p.settings for p in factory_presets())]


def render_concurrency() -> int:
    """How many renders may run at once: on a CPU XLA already spreads one render over all cores, so more than
    one per two cores only contends; a GPU takes a few at once."""
    import jax

    if jax.default_backend() != "cpu":
        return 4
    return max(1, (os.cpu_count() or 2) // 2)


def build_app(config: Config) -> gr.Blocks:
    """The studio as a ``gr.Blocks`` (not launched). Launch it with :func:`launch_options` (given the config)."""
    initial = st.initial_state(initial_sound())
    if config.public and not config.token_key:  # public mode signs browsers' tokens: it needs the key
        config = dataclasses.replace(config, token_key=load_or_create_secret(config.library_root))
    # With batched renders the render events admit a whole batch at once (they wait for one synth call together);
    # the panels size the render group from studio.config.render_concurrency.
    studio = Studio(config=dataclasses.replace(
        config, render_concurrency=max(config.render_concurrency, config.render_batch)))
    with gr.Blocks(title="Synth sketch studio", analytics_enabled=False) as demo:  # caches: studio.ui.disk
        studio.state = gr.State(initial)
        gr.Markdown(INTRO, elem_id="intro")
        if config.public:
            gr.Markdown("Public studio: your library is private to this browser and kept on this server "
                        "only while it runs.", elem_id="public-note")
        # What a sound designer reaches for, left to right (top to bottom on a phone): the player and its
        # pictures, the knobs (their own scrolling panel), the library; then the tools that make new sounds.
        with gr.Row():
            with gr.Column(scale=5, min_width=380, elem_id="player-column"):
                edits = macro_panel.build_edit_box(studio)  # above the player: on a phone the knobs follow the player
                player = synth_panel.build_player(studio, initial)
            with gr.Column(scale=6, min_width=380, elem_id="knob-panel"):
                knobs = synth_panel.build_knobs(studio, initial)
            with gr.Column(scale=3, min_width=280, elem_id="library-column"):
                macros = macro_panel.build_macros(studio, initial)  # beside the knobs
                library = library_panel.build(studio, initial)
                exports = export_panel.build(studio)
        explore_panel.build_locks(studio)
        # The tools that make new sounds; each loads its results into the player and knobs above.
        with gr.Tabs(elem_id="tools"):
            with gr.Tab("Prompt", id="prompt", elem_id="tab-prompt"):
                prompt = prompt_panel.build(studio, initial)
            with gr.Tab("Variations", id="variations", elem_id="tab-variations"):
                variations = explore_panel.build_variations(studio)
            with gr.Tab("Morph", id="morph", elem_id="tab-morph"):
                morph = explore_panel.build_morph(studio)
            with gr.Tab("Map", id="map", elem_id="tab-map") as map_tab:
                sound_map = map_panel.build(studio)
                sound_map["tab"] = map_tab  # opening the tab redraws the map
            with gr.Tab("Match a sound", id="match", elem_id="tab-match"):
                match = match_panel.build(studio, initial)
        _api_endpoints(studio.config)

        synth_panel.wire_player(studio, player)
        synth_panel.wire_knobs(studio, knobs)
        synth_panel.wire_pitch_note(studio, knobs)
        macro_panel.wire(studio, macros, edits)
        library_panel.wire(studio, library, demo)
        export_panel.wire(studio, exports)
        prompt_panel.wire(studio, prompt, demo)
        explore_panel.wire_variations(studio, variations)
        explore_panel.wire_morph(studio, morph, demo)
        map_panel.wire(studio, sound_map, demo)
        match_panel.wire(studio, match, demo)
    demo.queue(default_concurrency_limit=config.render_concurrency, max_size=QUEUE_MAX_SIZE)
    limit_renders(config.render_concurrency)  # knob renders run off the queue
    batcher = batch_renders(config.render_batch)  # a GPU: concurrent renders go out as one synth call
    if batcher is not None:
        batcher.warm_up(RenderSettings())
    GATE.configure(long_job_limits(config.render_concurrency, config.public))  # long jobs too
    accept_only(public_render_settings() if config.public else None)
    return guard_inputs(demo)  # malformed payloads get a message and one log line, not a traceback


def _api_endpoints(config: Config) -> None:
    """Endpoints for programs (``gradio_client``), on hidden components so the page stays uncluttered."""
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=config.render_concurrency)
    with gr.Column(visible=False):
        name = gr.Textbox(label="preset name")
        upload = gr.File(label="preset file", file_types=export_panel.PRESET_TYPES, type="filepath")
        audio = player_audio(type="numpy", format="wav", label="audio (int16 WAV, fixed gain)")
        by_name, by_file = gr.Button("render preset"), gr.Button("render preset file")

    @user_errors
    def render_preset(preset_name: str):
        """Render a factory preset with its own settings; returns int16 WAV audio at the studio's fixed gain.

        Args:
            preset_name: the factory preset's name (see list_presets), e.g. bass, bell or laser.
        """
        preset = factory_preset((preset_name or "").strip())
        return to_player(render_audio(preset), preset.settings.sample_rate)

    @user_errors
    def render_preset_file(path: str):
        """Render an uploaded preset file (YAML or JSON); returns int16 WAV audio at the studio's fixed gain.

        Args:
            path: the preset file (.yaml, .yml or .json) as the studio exports it.
        """
        if not path:
            raise gr.Error("send a preset file", print_exception=False)
        preset = import_preset(path, display_name=Path(path).name)
        return to_player(render_audio(preset), preset.settings.sample_rate)

    by_name.click(render_preset, name, audio, api_name="render_preset", **render)
    by_file.click(render_preset_file, upload, audio, api_name="render_preset_file", **render)

    def list_presets() -> list[str]:
        """Names of the factory presets."""
        return [p.name for p in factory_presets()]

    gr.api(list_presets, api_name="list_presets")


def launch_options(config: Config | None = None, host: str = "127.0.0.1") -> dict:
    """Keyword arguments for ``launch`` that style the page (Gradio 6 takes theme/css/js at launch) and, given the
    config, bound the disk (upload quotas, served files swept, the export folder removed at stop: studio.ui.disk) and
    the memory of gone sessions (studio.ui.sessions), and add the MCP server (``config.mcp``; ``host``: the
    interface served, see ``studio.ui.mcp_tools``)."""
    disk_guard = None
    if config:
        pages = sessions.OpenPages()
        idle_s = studio_limits.PUBLIC_SESSION_IDLE_S if config.public else studio_limits.SESSION_IDLE_S
        chores = ((studio_limits.SESSION_SWEEP_EVERY_S, sessions.session_sweeper(pages, idle_s)),)
        disk_guard = disk.app_kwargs(config.export_dir, quotas=config.public, chores=chores)
        disk_guard["middleware"] = [Middleware(sessions.OpenPagesMiddleware, pages=pages), *disk_guard["middleware"]]
    kwargs = http.app_kwargs(disk_guard, rate_limit=bool(config and config.public))
    if config and config.mcp:
        try:
            from studio.ui import mcp_tools
        except ImportError as error:
            raise SystemExit(f"the MCP server needs the mcp package ({error}): install requirements.txt, or "
                             "pip install 'synth-sketch-studio[mcp]'") from None
        kwargs = mcp_tools.app_kwargs(kwargs, host)
    return dict(theme=gr.themes.Soft(), css=CSS, js=page_script(synth_panel.tooltip_script()), max_file_size="10mb",
                footer_links=["api"],  # and security headers everywhere; public: a request rate per address
                app_kwargs=kwargs,
                mcp_server=False)  # Gradio's own MCP server needs mcp < 2: the studio mounts its own (config.mcp)


def make_config(library: str | os.PathLike | None = None, public: bool | None = None,
                mcp: bool | None = None) -> Config:
    """A :class:`Config` from arguments, falling back to the environment (see ``studio.library``; ``mcp``:
    ``$GRADIO_MCP_SERVER``; batched renders: ``studio.hosting.render_batch_size``)."""
    root = Path(library).expanduser() if library else default_library_root()
    public = public_mode() if public is None else public
    key = legacy = None  # only public mode gives browsers (signed) library tokens
    if public:
        key = os.environ.get("SYNTH_STUDIO_SECRET") or load_or_create_secret(root)
        legacy = os.environ.get("SYNTH_STUDIO_SECRET") or legacy_secret(root)
    mcp = mcp_from_env() if mcp is None else mcp
    return Config(library_root=str(root), public=public, export_dir=disk.new_export_dir(),
                  render_concurrency=render_concurrency(), token_key=key, legacy_secret=legacy,
                  render_batch=hosting.render_batch_size(), mcp=bool(mcp))


def mcp_from_env() -> bool:
    """Whether ``$GRADIO_MCP_SERVER`` asks for the MCP server (Gradio's own switch: "true")."""
    return os.environ.get("GRADIO_MCP_SERVER", "").strip().lower() == "true"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    in_space = bool(os.environ.get("SPACE_ID"))
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the synth sketch studio.")
    default_host = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if in_space else "127.0.0.1")
    parser.add_argument("--host", default=default_host,
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 inside a Space)")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("PORT") or os.environ.get("GRADIO_SERVER_PORT") or DEFAULT_PORT),
                        help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--library", default=None,
                        help="library folder (default $SYNTH_STUDIO_LIBRARY or ~/.local/share/synth-studio/library)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--public", dest="public", action="store_true", default=None,
                      help="isolate each browser's library (default: $SYNTH_STUDIO_PUBLIC, on inside a Space)")
    mode.add_argument("--private", dest="public", action="store_false", help="one shared library (local use)")
    parser.add_argument("--mcp", action="store_true", default=None,
                        help="also serve the studio's tools as an MCP server at /gradio_api/mcp/ (streamable HTTP) "
                             "(default: $GRADIO_MCP_SERVER)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Build and serve the studio until interrupted."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from studio.synth.cpu import tune_cpu

    tune_cpu()  # app.py has done it already; `python -m studio.ui.app` has not
    # Compile while the page is being built: the default settings first, then the factory presets' own.
    # The noise seed is an input of the compiled renderer, not part of its shape: one compile per rate/duration.
    start_warm_up((RenderSettings(), *(dataclasses.replace(p.settings, noise_seed=0) for p in factory_presets())))
    config = make_config(args.library, args.public, args.mcp)
    demo = build_app(config)
    print(f"synth studio: library {config.library_root} ({'public: per-browser' if config.public else 'local'}); "
          f"{hosting.describe()}", flush=True)
    if hosting.zero_gpu():  # ZeroGPU moves the weights put on its device to it when the app launches: load CLAP first
        prompt_panel.current_scorer(None)
    disk.exit_on_sigterm()
    demo.launch(server_name=args.host, server_port=args.port, show_error=False, prevent_thread_lock=True,
                **launch_options(config, args.host))
    if config.mcp:
        from studio.ui.mcp_tools import MCP_PATH

        print(f"MCP server (streamable HTTP): {demo.local_url.rstrip('/')}{MCP_PATH}/", flush=True)
    start_background_work().add_done_callback(
        lambda done: print(f"synth studio: {READY_LINE}" if done.result() else
                           "synth studio: start-up preparations still running", flush=True))
    demo.block_thread()


def start_background_work() -> Future:
    """Slow one-off preparations that must not hold up the page, started once it is served (importing torch and
    umap-learn alongside Gradio's start doubled the time to the first page): each runs in its own daemon thread,
    and the features that need them work (more slowly, or with a fallback) until they finish. Returns the future
    of the last step (:func:`~studio.background.freeze_after_preparations`), done when all have ended."""
    prompt_panel.prepare_prompt_search()  # CLAP or the descriptor scorer, then the quick search compiled
    warm_up_umap()  # numba compiles UMAP (~13 s on 2 cores); maps use PCA meanwhile
    macro_panel.prepare()  # the macro and edit searches' programs (~20 s on 2 cores)
    return freeze_after_preparations()  # then later garbage collections skip everything made so far


def serve_in_background(config: Config, port: int | None = None) -> gr.Blocks:
    """Build and launch the studio without blocking (tests, benchmarks); ``demo.local_url`` is its address.
    Stop it with ``demo.close()``."""
    demo = build_app(config)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options(config))
    start_background_work()
    return demo
