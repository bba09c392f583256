"""A served studio (public mode) answers hostile and malformed requests the way the page's own never are sent:
each gets a specific message, the server logs one line and no traceback (issue 13, item 9), and every response
carries the security headers a public Space wants.

Requests go where a hostile visitor sends them: Gradio's queue (``/gradio_api/queue/join``) and ``/run/predict``
with raw JSON, by the event's ``fn_index`` from ``/config`` (the page's events are private to ``gradio_client``),
and ``gradio_client`` for the public endpoints.
"""
from __future__ import annotations

import json
import logging
import time
import uuid

import pytest

httpx = pytest.importorskip("httpx")
gradio_client = pytest.importorskip("gradio_client")

from studio.checks import MAX_SEED  # noqa: E402
from studio.ui.app import make_config, serve_in_background  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    demo = serve_in_background(make_config(tmp_path_factory.mktemp("library"), public=True))
    url = demo.local_url.rstrip("/")
    try:
        config = httpx.get(url + "/config", timeout=30).json()
        events = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        yield url, events
    finally:
        demo.close()


def send(server, api_name: str, data, raw: str | None = None):
    """Post ``data`` to the event ``api_name`` as the page would (a fresh session); returns ``(ok, message or
    output)``: ``ok`` False with the error's message when the server refused it. ``raw``: the body's JSON text
    instead, with ``{fn_index}`` and ``{session}`` where the event's index and the session go."""
    url, events = server
    event = events[api_name]
    session = uuid.uuid4().hex[:12]
    trigger = event["targets"][0][0] if event["targets"] else None
    if raw is not None:
        body = raw.replace("{fn_index}", str(event["id"])).replace("{session}", session).encode()
    else:
        body = json.dumps({"data": data, "fn_index": event["id"], "session_hash": session,
                           "event_data": None, "trigger_id": trigger}).encode()
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=120) as http:
        if event.get("queue") is False:
            reply = post_politely(http, url + "/gradio_api/run/predict", body, headers)
            answer = reply.json()
            if reply.status_code == 200 and "error" not in answer:
                return True, answer["data"]
            return False, answer.get("error")
        reply = post_politely(http, url + "/gradio_api/queue/join", body, headers)
        assert reply.status_code == 200, reply.text
        with http.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    if message.get("success"):
                        return True, output.get("data")
                    return False, output.get("error")
    raise AssertionError(f"{api_name}: no answer")


def post_politely(http, url: str, body: bytes, headers: dict, tries: int = 5):
    """POST as a well-behaved client does on a public server: after a 429 (this module's requests all come from one
    address, and the server allows 10 a second) wait the ``Retry-After`` it names and send again."""
    for _ in range(tries - 1):
        reply = http.post(url, content=body, headers=headers)
        if reply.status_code != 429:
            return reply
        time.sleep(float(reply.headers.get("retry-after", "1")))
    return http.post(url, content=body, headers=headers)


@pytest.fixture
def quiet_server(capfd, caplog):
    """Checks after the test that the server printed no traceback and logged nothing with one."""
    caplog.set_level(logging.INFO)
    yield caplog
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert not with_traceback, [r.getMessage() for r in with_traceback]


HUGE = 2**70
NAN = "nan"
SEED_RULE = rf"seed must be a whole number from 0 to {MAX_SEED}"


def variations(seed=0, delta=0.25, count=8):
    return [None, delta, count, seed, []]


def settings(duration=1.0, seed=0):
    return [None, duration, seed]


def prompt_search(seed=0, restarts=3, budget="quick"):
    return [None, "laser zap", "", "", "", "", budget, "learned_es", seed, restarts, [], None, None]


def match(seed=0, restarts=3, audio=None):
    return [audio, False, False, "quick", "learned_es", seed, restarts, [], None, None]


def morph(steps=5, a="current"):
    return [None, a, "factory:bell", steps, "linear", []]


# (event, inputs, what the message must say)
REFUSED = [
    # seeds: one rule, said the same way whoever takes them (studio.checks.check_seed)
    *[("make", variations(seed=v), SEED_RULE) for v in (HUGE, NAN, -1, [1], {"x": 1}, True)],
    *[("change_settings", settings(seed=v), SEED_RULE) for v in (HUGE, NAN, -1, [1])],
    *[("randomize_sound", [None, "nudge", v], SEED_RULE) for v in (HUGE, NAN, -1, "<b>7</b>")],
    *[("redraw", [None, "theta", "tag", v, None], SEED_RULE) for v in (HUGE, NAN, 10**400)],
    *[("search_prompt", prompt_search(seed=v), SEED_RULE) for v in (HUGE, NAN, [1])],
    *[("match_uploaded_sound", match(seed=v), SEED_RULE) for v in (HUGE, NAN, {"x": 1})],
    ("make", variations(seed=None), r"seed must be a whole number"),
    # sliders: a finite number in the slider's range
    *[("make", variations(delta=v), r"step size\) must be a finite number from 0 to 1") for v in (None, NAN, HUGE)],
    *[("make", variations(count=v), r"How many must be a finite number from 4 to 16") for v in (None, NAN, [8])],
    *[("build", morph(steps=v), r"Steps must be a finite number from 3 to 12") for v in (None, NAN, HUGE)],
    *[("search_prompt", prompt_search(restarts=v), r"Restarts .* must be a finite number from 1 to 8")
      for v in (None, NAN, HUGE)],
    *[("match_uploaded_sound", match(restarts=v), r"Restarts .* must be a finite number from 1 to 8")
      for v in (None, NAN, HUGE)],
    # dropdowns and radios: one of the choices
    *[("change_settings", settings(duration=v), r"Buffer length \(s\): .* is not one of the choices \(0\.5, 1, 2")
      for v in (NAN, HUGE, [1], -1)],
    ("build", morph(a=["current"]), r"A: .* is not one of the choices"),
    ("search_prompt", prompt_search(budget="forever"), r"Budget: 'forever' is not one of the choices"),
    ("redraw", [None, "knobs", "tag", 0, None], r"Map of: 'knobs' is not one of the choices \(theta, perceptual\)"),
    # text and files
    ("render_preset", [HUGE], r"preset name: expected text"),
    ("match_uploaded_sound", match(audio="x"), r"expected a file uploaded to this server"),
    ("match_uploaded_sound", match(audio={"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}),
     r"not one uploaded to this server"),
    ("make", [None, 0.25], r"expected 5 input values, got 2"),
    ("make", [None, 0.25, 8, 0, None], r"Locked: expected a list of choices, got None"),
    ("randomize_sound", [None, None, 0], r"unknown randomize amount None"),
    *[("load_example", [v], r"Examples: expected the number of an example from 0 to") for v in (None, 10**6, "0")],
]


@pytest.mark.parametrize("event,inputs,expected", REFUSED,
                         ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(REFUSED)])
def test_hostile_values_get_a_specific_message_and_no_traceback(server, quiet_server, event, inputs, expected):
    import re

    ok, message = send(server, event, inputs)
    assert not ok, f"{event} accepted {inputs!r}"
    assert message, f"{event}: an error without a message for {inputs!r}"
    assert re.search(expected, message), message
    assert "<b>" not in message  # a value is quoted as text, never as markup


def test_every_event_answers_odd_values_with_a_message(server, quiet_server):
    """Every event the page can send (the knobs aside: tested below), each input in turn given a value of the wrong
    kind (a dict; "nan" for numbers), the others the page's defaults: an answer or a message, never a bare error or
    a traceback."""
    url, events = server
    components = {c["id"]: c for c in httpx.get(url + "/config", timeout=30).json()["components"]}
    checked = 0
    for name, event in events.items():
        if not event.get("backend_fn") or name.startswith(("set_", "draw_pictures")):
            continue
        kinds = [components[i]["type"] for i in event["inputs"]]
        defaults = [None if kind == "state" else components[i]["props"].get("value")
                    for i, kind in zip(event["inputs"], kinds)]
        for position, kind in enumerate(kinds):
            if kind == "state":
                continue
            for value in ({"x": 1}, "nan") if kind in ("slider", "number") else ({"x": 1},):
                data = list(defaults)
                data[position] = value
                ok, message = send(server, name, data)
                assert ok or message, f"{name}: {kind} input {position} = {value!r} failed without a message"
                checked += 1
    assert checked > 50


def test_a_refusal_is_logged_in_one_line(server, quiet_server):
    ok, _ = send(server, "make", variations(delta=NAN))
    assert not ok
    lines = [r.getMessage() for r in quiet_server.records if "refused input" in r.getMessage()]
    assert lines and all("\n" not in line for line in lines), lines
    assert any(line.startswith("refused input to make:") and "step size" in line for line in lines), lines


def test_json_nan_and_infinity_tokens(server, quiet_server):
    """Python's JSON reader accepts bare NaN / Infinity, which the page never sends."""
    for token in ("NaN", "Infinity", "-Infinity"):
        body = ('{"data": [null, "current", "factory:bell", TOKEN, "linear", []], "fn_index": {fn_index}, '
                '"session_hash": "{session}", "event_data": null, "trigger_id": null}').replace("TOKEN", token)
        ok, message = send(server, "build", None, raw=body)
        assert not ok and message and "Steps must be a finite number" in message, (token, message)


def test_knob_releases_clamp_or_refuse_typed_values_themselves(server, quiet_server):
    """The knobs take their raw value (no preprocessing): the handler keeps the sound's value with a note on the
    status line, and nothing reaches the log as a traceback."""
    for value in (NAN, None, [1], {"x": 1}):
        ok, data = send(server, "set_keyboardmidi_f0", [value, None])
        assert ok, data
        assert "keyboard.midi_f0" in data[2] and "kept 60" in data[2], data[2]
    ok, data = send(server, "set_keyboardmidi_f0", [HUGE, None])
    assert ok and data[3] == 127  # set to the nearest end


def test_well_formed_requests_still_work(server, quiet_server):
    ok, data = send(server, "make", variations(seed=HUGE % (MAX_SEED + 1), count=4))
    assert ok, data
    ok, data = send(server, "change_settings", settings(duration=2.0, seed=MAX_SEED))
    assert ok, data
    ok, data = send(server, "build", morph(steps=3))
    assert ok, data


def test_gradio_client_gets_messages_too(server, quiet_server):
    url, _ = server
    client = gradio_client.Client(url + "/", verbose=False)
    for value in (HUGE, None, ["bass"]):
        with pytest.raises(Exception, match=r"preset name: expected text|no preset named"):
            client.predict(value, api_name="/render_preset")


def test_listening_to_a_session_that_does_not_exist(server, quiet_server):
    """Gradio raises its 404 inside the already-started event stream, which printed a traceback per request."""
    url, _ = server
    with httpx.Client(timeout=30) as http:
        for session in ("no-such-session", "", "x" * 5000):
            reply = http.get(url + "/gradio_api/queue/data", params={"session_hash": session})
            assert reply.status_code == 404, (session[:20], reply.status_code, reply.text[:200])


# ----------------------------------------------------------------------------------------------------------------
# Security headers


def test_every_response_has_the_security_headers(server):
    url, _ = server
    with httpx.Client(timeout=30) as http:
        for path in ("/", "/config", "/gradio_api/info", "/gradio_api/no-such-route", "/theme.css"):
            reply = http.get(url + path)
            headers = reply.headers
            assert headers.get("x-content-type-options") == "nosniff", path
            assert headers.get("referrer-policy") == "strict-origin-when-cross-origin", path
            assert headers.get("content-security-policy") == "frame-ancestors 'self'", path
            assert headers.get("x-frame-options") == "SAMEORIGIN", path


def test_a_space_may_frame_the_studio_from_hugging_face():
    from studio.ui.http import security_headers

    local = security_headers({})
    assert local["X-Frame-Options"] == "SAMEORIGIN" and local["Content-Security-Policy"] == "frame-ancestors 'self'"
    space = security_headers({"SPACE_ID": "someone/synth-studio"})
    assert "X-Frame-Options" not in space  # DENY or SAMEORIGIN would blank the Space's page on huggingface.co
    assert space["Content-Security-Policy"] == "frame-ancestors 'self' https://huggingface.co https://*.hf.space"
    assert space["X-Content-Type-Options"] == "nosniff"
    custom = security_headers({"SPACE_ID": "x/y", "SYNTH_STUDIO_FRAME_ANCESTORS": "'none'"})
    assert custom["Content-Security-Policy"] == "frame-ancestors 'none'"
