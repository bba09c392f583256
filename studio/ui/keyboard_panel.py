"""The keyboard panel beside the player: an on-screen piano, the computer keyboard and Web MIDI play the current
sound's notes in the browser (Web Audio), from samples rendered here for the whole shown range at once.

Wiring only: the notes are rendered and packed by :mod:`studio.instrument.keyboard`; the page's side (piano,
keys, MIDI, Web Audio, shortcuts) is ``keyboard.js`` next to this module. Whenever the session's sound changes
(a knob, a load, undo, adopt…: any event that changes ``studio.state``) or the page asks for another octave, the
range is rendered again and written as one int16 file (served as a static file, named by its content); a small
JSON header tells the page where it is, and the page fetches it and plays from it (a 5 MB payload through Gradio's
JSON took ~200 ms of the page's time; fetching the file takes tens of ms).
"""
from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from studio.background import once, started
from studio.instrument.keyboard import DEFAULT_START, KEYS, header, keyboard_samples, to_bytes
from studio.synth import PARAM_INDEX, RenderSettings, default_theta
from studio.ui import state as st
from studio.ui import views
from studio.ui.common import Studio, user_errors

log = logging.getLogger(__name__)
SCRIPT = Path(__file__).with_name("keyboard.js")
PITCH = PARAM_INDEX["keyboard.midi_f0"]
WARM_UP = "keyboard-warm-up"
LOAD_JS = "(payload) => { if (window.synthKeyboard) window.synthKeyboard.load(payload); }"

PANEL = f"""
<div id="kb-root" class="kb">
  <div class="kb-bar">
    <button class="kb-down-octave" title="Octave down (Z)" aria-label="Octave down">◀ Z</button>
    <span class="kb-range">C3–C5</span>
    <button class="kb-up-octave" title="Octave up (X)" aria-label="Octave up">X ▶</button>
    <button class="kb-hold" aria-pressed="false"
            title="Hold: a released key plays its whole rendered note (off: it fades out at once)">Hold</button>
    <button class="kb-loop" aria-pressed="false" title="Loop player A (L)">Loop A (L)</button>
    <span class="kb-own-note"></span>
  </div>
  <div class="kb-piano" role="group" aria-label="Piano: {KEYS} keys; press to play"></div>
  <div class="kb-foot">
    <span class="kb-midi" data-state="off">MIDI: not connected</span>
    <button class="kb-midi-connect" title="Play from a MIDI keyboard (the browser may ask for permission)">
      Connect MIDI</button>
    <span class="kb-status">loading the keyboard…</span>
  </div>
  <div class="kb-help">Keys <b>A W S E D F T G Y H U J K</b> play, <b>Z</b>/<b>X</b> shift the octave ·
    <b>Space</b> plays/stops A · <b>Ctrl/⌘-Z</b> undo, <b>Shift-Ctrl/⌘-Z</b> redo · <b>L</b> loops A
    (not while typing in a box)</div>
</div>
<style>
#kb-root {{ --kb-white: calc(100% / var(--kb-whites, 15)); --kb-black: calc(100% / var(--kb-whites, 15) * 0.62);
  user-select: none; -webkit-user-select: none; font-size: 12px; }}
#kb-root .kb-bar, #kb-root .kb-foot {{ display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 4px 0; }}
#kb-root button {{ border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 1px 8px;
  font: inherit; font-size: 12px; font-weight: 500; line-height: 1.6;
  background: var(--button-secondary-background-fill); color: var(--body-text-color); cursor: pointer; }}
#kb-root button[aria-pressed=true] {{ background: var(--color-accent); color: white;
  border-color: var(--color-accent); }}
#kb-root .kb-range {{ min-width: 4.5em; text-align: center; font-weight: 600; }}
#kb-root .kb-own-note {{ color: var(--color-accent); }}
#kb-root .kb-piano {{ position: relative; display: flex; height: 112px; touch-action: none; border-radius: 0 0 6px 6px;
  overflow: hidden; border-top: 3px solid #333; }}
#kb-root .kb-key {{ box-sizing: border-box; display: flex; flex-direction: column; justify-content: flex-end;
  align-items: center; cursor: pointer; }}
#kb-root .kb-white {{ flex: 1 1 0; min-width: 0; background: linear-gradient(#fff, #f1f1f1); color: #333;
  border: 1px solid #999; border-top: none; border-radius: 0 0 5px 5px; }}
#kb-root .kb-black {{ position: absolute; top: 0; width: var(--kb-black); height: 62%; z-index: 2; color: #ddd;
  background: linear-gradient(#444, #111); border: 1px solid #000; border-radius: 0 0 4px 4px; }}
#kb-root .kb-name {{ font-size: 10px; line-height: 1; margin-bottom: 5px; white-space: nowrap; color: #333; }}
#kb-root .kb-letter {{ font-size: 9px; line-height: 1; margin-bottom: 3px; color: #888; }}
#kb-root .kb-black .kb-name {{ font-size: 8px; color: #eee; margin-bottom: 4px; }}
#kb-root .kb-black .kb-letter {{ color: #aaa; }}
#kb-root .kb-own {{ box-shadow: inset 0 -4px 0 var(--color-accent); }}
#kb-root .kb-own .kb-name {{ color: var(--color-accent); font-weight: 700; margin-bottom: 7px; }}
#kb-root .kb-white.kb-down {{ background: linear-gradient(#dfe6ff, #c9d4ff); }}
#kb-root .kb-black.kb-down {{ background: linear-gradient(#5a66a8, #2e3670); }}
#kb-root .kb-midi[data-state=on] {{ color: #1a7f37; }}
#kb-root .kb-status {{ opacity: .75; margin-left: auto; }}
#kb-root .kb-help {{ opacity: .7; font-size: 11px; }}
/* A phone: one line of buttons, no key letters, help or status (the keys show what plays); the knobs stay close. */
@media (max-width: 640px) {{ #kb-root .kb-piano {{ height: 88px; }}
  #kb-root .kb-letter, #kb-root .kb-help, #kb-root .kb-status, #kb-root .kb-own-note {{ display: none; }}
  #kb-root .kb-bar, #kb-root .kb-foot {{ gap: 4px; margin: 2px 0; }} #kb-root button {{ padding: 0 6px; }} }}
</style>
"""


def build(studio: Studio) -> dict:
    """The keyboard panel (call inside the player column): the piano's markup, a hidden box through which the page
    asks for a range of keys, and the hidden payload the page plays from."""
    c = {"panel": gr.HTML(PANEL, elem_id="keyboard-panel", js_on_load=None, container=False, padding=False)}
    c["range"] = gr.Textbox(json.dumps([DEFAULT_START, 0]), elem_id="keyboard-range", visible="hidden",
                            container=False)
    c["payload"] = gr.JSON(None, elem_id="keyboard-payload", visible=False)
    gr.set_static_paths([keyboard_dir()])  # the keys' files are fetched directly (before launch: build time)
    c["sent"] = gr.State(None)  # the version this session's page holds: a change that leaves the sound alone sends none
    c["state"] = studio.state
    studio.keyboard = c
    start_keyboard_warm_up()
    return c


def wire(studio: Studio, c: dict) -> None:
    """Every change of the session's state through the queue (loads, undo, adopt, open…: Gradio fires
    ``state.change`` after those) and every range the page asks for renders the keys and sends them; the page then
    decodes the payload (``synthKeyboard.load``). Events off the queue (knob releases) get no ``state.change`` from
    Gradio: they call :func:`follow`."""
    studio.state.change(user_errors(keyboard_payload), *_io(c), **OPTIONS).then(**_load(c))
    c["range"].input(user_errors(keyboard_payload), *_io(c), **OPTIONS).then(**_load(c))


def follow(studio: Studio, event) -> None:
    """Re-arm the keyboard after ``event`` (an event off the queue that changes the sound), off the queue too."""
    c = studio.keyboard
    event.then(user_errors(keyboard_payload), *_io(c), **OPTIONS).then(**_load(c))


OPTIONS = dict(queue=False, show_progress="hidden", api_visibility="private", trigger_mode="always_last")


def _io(c: dict) -> tuple[list, list]:
    return [c["state"], c["range"], c["sent"]], [c["payload"], c["sent"]]


def _load(c: dict) -> dict:
    return dict(fn=None, inputs=[c["payload"]], outputs=None, queue=False, show_progress="hidden",
                api_visibility="private", js=LOAD_JS)


def requested_start(raw) -> int:
    """The first key the page asks for (``[start, counter]`` as JSON, or a bare number); the default when malformed."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        if isinstance(value, list):
            value = value[0]
        return int(np.clip(int(value), 0, 128 - KEYS))
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_START


def sound_version(sound, start: int) -> str:
    """A name for (θ, settings, range): equal names, equal samples (long enough that no one guesses another's)."""
    digest = hashlib.sha1(np.asarray(sound.theta, np.float32).tobytes() + repr(sound.settings).encode()
                          + str(start).encode())
    return digest.hexdigest()


_RECENT: dict = {}  # version → payload: sessions moving through the same sounds (undo/redo) reuse renders
_RECENT_SIZE = 16
_FILES_KEPT = 32  # newest keyboard files kept on disk (each up to 25 × 2 bytes × the buffer's samples)
_LOCK = threading.Lock()
_DIR: list[Path] = []


def keyboard_dir() -> Path:
    """This process's folder of keyboard files, under the system's temporary folder: made once, named with the
    process id, removed at exit; folders left by processes that died are removed when a new one is made."""
    with _LOCK:
        if not _DIR:
            _sweep_dead_folders()
            folder = Path(tempfile.mkdtemp(prefix=f"{KEYBOARD_PREFIX}{os.getpid()}-")).resolve()
            atexit.register(shutil.rmtree, folder, True)
            _DIR.append(folder)
        return _DIR[0]


KEYBOARD_PREFIX = "synth-studio-keyboard-"


def _sweep_dead_folders() -> None:
    for folder in Path(tempfile.gettempdir()).glob(f"{KEYBOARD_PREFIX}*-*"):
        pid = folder.name[len(KEYBOARD_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive, owned by someone else
            pass


def keyboard_payload(state: st.StudioState, raw_range, sent: str | None):
    """(payload for the page, the version it now holds): the keys of the requested range rendered for the
    session's sound, or nothing new when the page already holds them."""
    if state is None:
        return gr.skip(), gr.skip()
    start = requested_start(raw_range)
    version = sound_version(state.sound, start)
    if version == sent:
        return gr.skip(), gr.skip()
    with _LOCK:
        payload = _RECENT.get(version)
    if payload is None or not Path(payload["path"]).exists():
        payload = render_payload(state.sound, start, version)
        with _LOCK:
            _RECENT[version] = payload
            while len(_RECENT) > _RECENT_SIZE:
                _RECENT.pop(next(iter(_RECENT)))
    return payload, version


def render_payload(sound, start: int, version: str | None = None) -> dict:
    """Render the keys ``start …`` of ``sound``, write them as one int16 file and return the page's header (see
    :func:`studio.instrument.keyboard.header`) with the file's ``path``, the sound's name and its own note."""
    version = version or sound_version(sound, start)
    views.check_render_shape(sound.settings)  # a public studio renders only its own shapes (no new compiles)
    views.wait_for_warm_up()
    with views._RENDER_SLOTS:  # the knob renders' process-wide limit (studio.ui.views.limit_renders) bounds these too
        samples = keyboard_samples(sound.theta, sound.settings, start)
    path = keyboard_dir() / f"{version}.pcm"
    if not path.exists():  # content-named: a file a page may be fetching is never rewritten
        partial = path.with_suffix(f".{threading.get_ident()}.part")
        partial.write_bytes(to_bytes(samples))
        os.replace(partial, path)
        _prune(path.parent)
    payload = header(samples, version)
    payload.update(path=str(path), own=float(st.human_values(sound.theta)[PITCH]), name=str(sound.name))
    return payload


def _prune(folder: Path) -> None:
    """Keep the newest :data:`_FILES_KEPT` keyboard files (older ones belong to sounds long changed)."""
    try:
        files = sorted(folder.glob("*.pcm"), key=lambda f: f.stat().st_mtime)
        for old in files[:-_FILES_KEPT]:
            old.unlink(missing_ok=True)
    except OSError as error:  # another thread pruned first: nothing lost
        log.debug("keyboard files: %s", error)


def start_keyboard_warm_up() -> None:
    """Compile the keyboard's batch (one shape per batch size) in the background, after the player's renderer;
    only where the player's warm-up was started (a served studio, not a test that builds the app)."""
    if started(views.WARM_UP) is None:
        return

    def warm() -> None:
        views.wait_for_warm_up(None)
        keyboard_samples(default_theta(), RenderSettings(), DEFAULT_START)

    once(WARM_UP, warm)


def page_script(*scripts: str) -> str:
    """One ``launch(js=…)`` function that runs the given page scripts (each ``() => {…}``) and then the keyboard's."""
    calls = "".join(f"({s.strip()})();\n" for s in scripts)
    return f"() => {{\n{calls}{SCRIPT.read_text(encoding='utf-8')}\n}}"


__all__ = ["build", "wire", "follow", "keyboard_payload", "render_payload", "requested_start", "page_script"]
