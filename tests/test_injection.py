"""Markup in what users write or send (sound names, tags, prompts, preset files, file names) never becomes markup in
the page: toasts (gr.Error, gr.Warning, gr.Info), which Gradio renders as HTML, get it HTML-escaped; Markdown values
(the status line, summaries, progress lines) get it escaped for Markdown. The browser half is
tests/browser/test_public_browser.py."""
from __future__ import annotations

import dataclasses
import html
import json
import re

import gradio as gr
import pytest
from app_session import Session as AppSession
from markdown_it import MarkdownIt

from studio.presets import dumps_preset, factory_preset
from studio.ui.app import build_app, make_config
from studio.ui.common import failed_line, markdown_text, shown_error, status_text, toast_text

BEACON = "http://127.0.0.1:9/beacon"
# Each would become an element, a link, an image or emphasis if rendered as written.
CORPUS = (
    "<img src=x onerror=alert(1)>",
    "<form action=/steal><input type=password name=pw></form>",
    "[link](javascript:alert(1))",
    f"![beacon]({BEACON})",
    "**bold** and _it_",
    "</div><script>alert(1)</script>",
    f"<a href={BEACON}>click</a>",
    "`code` ~~gone~~ $$x^2$$",
    "# heading",
    f"{BEACON} www.example.org me@example.org",
    '<svg onload=alert(1)>" \'quoted\' & more',
)
MARKUP = re.compile(r"<(img|form|input|script|a|svg|code|del|s|h\d|iframe|li|blockquote|table)\b", re.I)

# Gradio's Markdown is GFM (marked); markdown-it's CommonMark with the GFM extensions it has is close enough to
# tell whether text became markup.
MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def rendered(markdown: str) -> str:
    return MD.render(markdown)


def text_of(rendered_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered_html)).strip()


def assert_literal(markdown: str, text: str):
    """``markdown`` renders with no element made from ``text``, which shows as typed (so no emphasis either)."""
    out = rendered(markdown)
    assert not MARKUP.search(out), out
    assert " ".join(text.split()) in text_of(out), out


@pytest.mark.parametrize("text", CORPUS)
def test_markdown_text_shows_the_characters_typed(text):
    out = rendered(markdown_text(text))
    assert not MARKUP.search(out), out
    assert text_of(out) == " ".join(text.split())  # exactly what was typed (line breaks become spaces)


@pytest.mark.parametrize("text", CORPUS)
def test_toast_text_is_inert_html(text):
    out = toast_text(text)
    assert "<" not in out and ">" not in out
    assert html.unescape(out) == text


def test_multi_line_text_starts_no_block():
    out = rendered(f"**Name:** {markdown_text('one' + chr(10) + '# two' + chr(10) + '- three' + chr(10) + '> q')}")
    assert "<h1" not in out and "<li" not in out and "<blockquote" not in out


@pytest.mark.parametrize("text", CORPUS)
def test_messages_and_lines_built_from_user_text(text):
    from studio.errors import StudioError
    from studio.ui import state as st

    error = shown_error(StudioError(f"{text}: params.x: bad value"))
    assert not MARKUP.search(error.message) and html.unescape(error.message).startswith(text)
    assert_literal(failed_line(f"{text} is not a note"), text)
    sound = dataclasses.replace(factory_preset("bass"), name=text)
    state = st.initial_state(sound)
    state = dataclasses.replace(state, pinned=sound)
    assert_literal(status_text(state), text)
    assert rendered(status_text(state)).count("<strong>") == 2  # the name's and B's own bold, no more


# ---------------------------------------------------------------------------------------------------------------
# Through the handlers, as Gradio runs them


class Session(AppSession):
    """A session whose events answer with their outputs keyed by elem_id; a test's own files count as uploads."""

    def __init__(self, demo: gr.Blocks, loop):
        super().__init__(demo, loop, explicit_call=True)

    def __call__(self, name: str, *values) -> dict:
        return self.outputs(name, super().__call__(name, *values))



@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_app(make_config(tmp_path_factory.mktemp("public-library"), public=True))


@pytest.fixture
def toasts(monkeypatch):
    """Every gr.Info and gr.Warning message a handler shows."""
    shown = []
    monkeypatch.setattr(gr, "Info", lambda message, *a, **k: shown.append(message))
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: shown.append(message))
    return shown


def assert_inert(out: dict, elem_id: str, text: str):
    value = out[elem_id]
    assert_literal(value["value"] if isinstance(value, dict) else value, text)


def uploaded(path) -> dict:
    return {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize("text", CORPUS)
def test_names_tags_and_files_through_the_library_panel(demo, loop, toasts, tmp_path, text):
    s = Session(demo, loop)
    s("on_page_load", None, None)
    s("pick", "factory:bass")
    name = f"x {text}"[:80]
    out = s("save", name, "a, b", False)
    assert_inert(out, "status", name)
    out = s("ask_delete", out["sound-picker"]["value"])
    assert_inert(out, "delete-confirm-text", name)

    # A preset file whose name is the text, in a file whose own name is the text too.
    preset = dataclasses.replace(factory_preset("pad"), name=text, tags=(text[:32],), prompt=text)
    path = tmp_path / (text.replace("/", "∕") + ".yaml")
    path.write_text(dumps_preset(preset))
    out = s("upload", uploaded(path))
    assert_inert(out, "status", text)
    # A broken file: its error quotes the file's name and the bad value.
    broken = tmp_path / (text.replace("/", "∕")[:40] + " broken.json")
    broken.write_text(json.dumps({"name": text, "params": {"keyboard": {"midi_f0": text}}}))
    with pytest.raises(gr.Error) as caught:
        s("upload", uploaded(broken))
    assert not MARKUP.search(caught.value.message), caught.value.message
    assert toasts and not any(MARKUP.search(m) for m in toasts), toasts


@pytest.mark.parametrize("text", CORPUS)
def test_prompts_through_the_prompt_panel(text):
    from studio.errors import StudioError
    from studio.presets import RenderSettings
    from studio.scoring import Constraints, make_scorer
    from studio.search import PromptObjective
    from studio.ui import prompt_panel as pp

    session = f"injection-{CORPUS.index(text)}"
    line = pp.claim_search(text, session)
    try:
        assert_literal(line, pp.short_name(" ".join(text.split())))  # the line names the prompt's first words
        with pytest.raises(StudioError) as refused:  # one search per session: the refusal quotes both prompts
            pp.claim_search(text + " again", session)
        assert not MARKUP.search(shown_error(refused.value).message)
    finally:
        pp.SEARCHES.forget(session)
    # What the scorer read (it quotes the words it did not know), and a cut prompt's last words.
    scorer, settings = make_scorer("descriptors"), RenderSettings()
    objective = PromptObjective(scorer, f"bright pluck {text}", settings, Constraints.from_user(
        "", None, None, None, settings.duration))
    understood = pp.understood_text(scorer, objective, typed_chars=900)
    assert_literal(understood, text[-30:].lstrip())


@pytest.mark.parametrize("text", CORPUS)
def test_a_target_file_name_through_the_match_panel(text, tmp_path):
    import numpy as np
    import soundfile

    from studio.presets import RenderSettings
    from studio.search.match import estimate_start
    from studio.ui import match_panel as mp

    path = tmp_path / (text.replace("/", "∕")[:60] + ".wav")
    t = np.arange(24000) / 48000
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    target = mp.read_target(str(path), RenderSettings())
    assert_literal(mp.target_text(target, estimate_start(target.audio, target.sample_rate)), path.name)
