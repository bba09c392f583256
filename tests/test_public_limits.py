"""Issue 13 items 1 and 2: one visitor cannot lock everyone out of a public studio.

Long jobs (prompt searches, matches, variations, morphs, maps) never wait in Gradio's queue, whose slots renders and
page loads need: the job gate admits one per page and kind (a second is refused at once, with a message), bounds
how many run and wait, and a refused job does nothing. A public studio renders only the shapes it offers, so a
preset asking for 192 kHz × 29 s is refused before anything compiles; compiled renderers are kept by memory.
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import zlib

import httpx
import numpy as np
import pytest
import soundfile

gradio_client = pytest.importorskip("gradio_client")

from studio.errors import StudioError  # noqa: E402
from studio.presets import dumps_preset, factory_preset  # noqa: E402
from studio.synth import RenderSettings  # noqa: E402
from studio.synth import voice  # noqa: E402
from studio.ui import jobs, views  # noqa: E402
from studio.ui import match_panel as mp  # noqa: E402
from studio.ui.app import make_config, public_render_settings, serve_in_background  # noqa: E402
from studio.ui.jobs import JobGate, JobLimits, JobRefused  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------
# The gate on its own


def limits(**kw) -> JobLimits:
    return JobLimits(**({"running": {kind: 1 for kind in jobs.JOB_KINDS}} | kw))


def test_a_second_job_of_a_kind_from_one_page_is_refused_at_once_with_a_message():
    gate = JobGate(limits())
    first = gate.admit("page", "match")
    with pytest.raises(JobRefused, match="^A match is already running for this page — stop it or wait for it to "
                                         "finish, then try again.$"):
        gate.admit("page", "match")
    with pytest.raises(JobRefused, match="^A set of variations is already running for this page — wait for it"):
        gate.admit("page", "variations") and gate.admit("page", "variations")
    assert gate.admit("other page", "match")  # another page may queue its own
    gate.release(first)
    assert gate.admit("page", "match")  # and the page may start another once the first ended


def test_a_page_runs_one_job_at_a_time_and_keeps_few_waiting():
    gate = JobGate(limits(session_running=1, session_total=2))
    search = gate.admit("page", "prompt")
    assert next(gate.wait_turn(search), "runs") == "runs"  # nothing ahead: it runs at once
    match = gate.admit("page", "match")
    waiting = gate.wait_turn(match)
    assert next(waiting) == 0  # the match waits for the page's search, though no match runs
    with pytest.raises(JobRefused, match=r"^This page already has 2 long jobs running or waiting \(a prompt "
                                         r"search, a match\): wait for one to finish"):
        gate.admit("page", "morph")
    gate.release(search)
    with pytest.raises(StopIteration) as started:
        next(waiting)
    assert started.value.value is True


def test_the_server_bounds_running_and_waiting_jobs_of_a_kind():
    gate = JobGate(limits(waiting=2))
    tickets = [gate.admit(f"page {i}", "match") for i in range(3)]  # one runs, two wait
    with pytest.raises(JobRefused, match=r"^The studio is busy: 3 long jobs are running or waiting \(3 like this "
                                         r"one\), so a match was not started. Try again in a minute"):
        gate.admit("page 3", "match")
    assert gate.admit("page 3", "prompt")  # other kinds have their own room
    assert next(gate.wait_turn(tickets[0]), "runs") == "runs"
    assert next(gate.wait_turn(tickets[2], tick_s=0.01)) == 1  # first come, first served: one waits before it
    stop = threading.Event()
    stop.set()
    second = gate.wait_turn(tickets[1], stop)
    with pytest.raises(StopIteration) as stopped:  # cancelled while waiting: it never runs
        next(second)
    assert stopped.value.value is False


def test_a_public_server_runs_no_more_long_jobs_at_once_than_renders_may():
    """Five visitors' jobs of five kinds all ran at once and every knob render waited ~20× longer on two cores."""
    gate = JobGate(jobs.long_job_limits(render_concurrency=1, public=True))
    first, second = gate.admit("page 1", "prompt"), gate.admit("page 2", "variations")
    assert next(gate.wait_turn(first), "runs") == "runs"
    waiting = gate.wait_turn(second, tick_s=0.01)
    assert next(waiting) == 0  # another kind, nothing of its kind ahead, yet it waits: one long job runs at a time
    gate.release(first)
    with pytest.raises(StopIteration) as started:
        next(waiting)
    assert started.value.value is True
    local = JobGate(jobs.long_job_limits(render_concurrency=1, public=False))  # one person's studio: kinds overlap
    for page, kind in (("page 1", "prompt"), ("page 2", "variations")):
        assert next(local.wait_turn(local.admit(page, kind)), "runs") == "runs"


def test_a_claim_whose_job_never_starts_gives_its_place_back(monkeypatch):
    gate = JobGate(limits(waiting=0))
    gate.admit("page", "prompt", claim=True)
    with pytest.raises(JobRefused, match="busy"):
        gate.admit("another page", "prompt")
    monkeypatch.setattr(jobs, "CLAIM_TTL_S", -1.0)
    gate.admit("page 2", "match", claim=True)  # expired as soon as made: the next admission drops it
    assert gate.count("match") == 1
    assert gate.admit("page 3", "match") and gate.count("match") == 1


def test_a_job_sent_twice_past_the_claim_is_refused_before_it_does_anything():
    runner = jobs.JobRunner(4, 0.1, kind="match", gate=JobGate(limits()))
    with runner.job("page") as flag:
        assert not flag.is_set()
        with pytest.raises(JobRefused, match="^A match is already running for this page"):
            with runner.job("page"):
                pass
        assert runner.running("page")  # the refusal left the running job alone
    assert runner.gate.count() == 0 and not runner.running("page")


# ---------------------------------------------------------------------------------------------------------------
# Render shapes and compiled renderers


def test_only_the_offered_shapes_render_when_limited():
    offered = public_render_settings()
    assert {views.shape_of(s) for s in offered} == {(48000, d, 480.0) for d in (0.5, 1.0, 2.0, 3.0, 4.0)}
    views.accept_only(offered)
    try:
        views.check_render_shape(RenderSettings(duration=3.0, noise_seed=7))  # the seed is no part of the shape
        with pytest.raises(StudioError, match=r"^this public studio renders at 48 kHz with a buffer length of 0\.5, "
                                              r"1, 2, 3, 4 s \(control rate 480 Hz\); this sound asks for 192 kHz × "
                                              r"29 s"):
            views.render_audio(dataclasses.replace(factory_preset("bass"), settings=RenderSettings(192_000, 29.0)))
    finally:
        views.accept_only(None)
    views.check_render_shape(RenderSettings(44_100, 2.5))  # local studios render any valid shape


def test_compiled_renderers_are_kept_by_memory(monkeypatch):
    built = []
    monkeypatch.setattr(voice, "_build_renderer", lambda *key: built.append(key) or object())
    monkeypatch.setattr(voice, "_RENDERERS", type(voice._RENDERERS)())
    monkeypatch.setattr(voice, "RENDERER_CACHE_BYTES", voice.renderer_bytes(3 * 96_000 * 10))
    for seconds in range(6, 14):  # 96 kHz × 6…13 s: eight shapes of 69–150 MB (estimated)
        voice._compiled_renderer(96_000, 96_000 * seconds, 480 * seconds, 480.0, 32, 1)
        assert voice.cached_renderer_bytes() <= voice.RENDERER_CACHE_BYTES
    assert voice.cached_renderer_shapes() == [(96_000, 96_000 * s) for s in (12, 13)]  # the newest, least first
    again = len(built)
    voice._compiled_renderer(96_000, 96_000 * 12, 480 * 12, 480.0, 32, 1)
    assert len(built) == again  # a kept shape is not rebuilt
    huge = voice._compiled_renderer(192_000, 192_000 * 30, 480 * 30, 480.0, 32, 1)
    assert voice._compiled_renderer(192_000, 192_000 * 30, 480 * 30, 480.0, 32, 1) is huge  # the one in use stays
    assert voice.cached_renderer_shapes() == [(192_000, 192_000 * 30)]


# ---------------------------------------------------------------------------------------------------------------
# The served studio, attacked from one page


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    hold = threading.Event()  # released at the end, so held matches end
    real = mp.match_sound

    def held_match(target, *, cancel, **kwargs):
        """A match that holds its slot (without the CPU) until cancelled."""
        deadline = time.monotonic() + 120
        while not cancel.is_set() and not hold.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        return
        yield

    mp.match_sound = held_match
    proxy = os.environ.get("SYNTH_STUDIO_TRUST_PROXY")
    os.environ["SYNTH_STUDIO_TRUST_PROXY"] = "1"  # as in a Space: each visitor's address is forwarded (see join)
    demo = serve_in_background(make_config(tmp_path_factory.mktemp("library"), public=True))
    try:
        yield demo
    finally:
        hold.set()
        if proxy is None:
            os.environ.pop("SYNTH_STUDIO_TRUST_PROXY", None)
        else:
            os.environ["SYNTH_STUDIO_TRUST_PROXY"] = proxy
        mp.match_sound = real
        demo.close()
        views.accept_only(None)
        jobs.GATE.configure(JobGate().limits)


def fn_index(demo, name: str) -> int:
    return next(i for i, fn in demo.fns.items() if getattr(fn.fn, "__name__", "") == name)


def address_of(session: str) -> str:
    """A visitor's own address for each session (its page), unless a test says otherwise."""
    return "10.0.{}.{}".format(*divmod(zlib.crc32(session.encode()) % 65536, 256))


def join(url: str, demo, name: str, session: str, data: list, address: str | None = None) -> httpx.Response:
    return httpx.post(f"{url}/gradio_api/queue/join", timeout=30,
                      headers={"X-Forwarded-For": address or address_of(session)},
                      json={"data": data, "fn_index": fn_index(demo, name), "session_hash": session,
                            "event_data": None, "trigger_id": None})


def events(url: str, session: str, until, timeout_s: float = 60) -> list[dict]:
    """The session's server-sent messages until ``until(messages)`` holds."""
    messages = []
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session},
                      timeout=timeout_s) as stream:
        start = time.monotonic()
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if until(messages):
                    break
            assert time.monotonic() - start < timeout_s, "no answer in time"
    return messages


@pytest.fixture(scope="module")
def target(server, tmp_path_factory):
    path = tmp_path_factory.mktemp("target") / "tone.wav"
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 220 * np.arange(48_000) / 48_000), 48_000)
    with open(path, "rb") as f:
        uploaded = httpx.post(f"{server.local_url.rstrip('/')}/gradio_api/upload", files={"files": f}).json()[0]
    return {"path": uploaded, "meta": {"_type": "gradio.FileData"}}


def match_data(target) -> list:
    return [target, False, False, "paper", "learned_es", 0, 1, [], None, None]


def test_many_matches_from_one_page_leave_renders_and_page_loads_working(server, target):
    url = server.local_url.rstrip("/")
    # (from four addresses: one address may send only so many requests at once, see the rate-limit test below)
    sent = [join(url, server, "match_uploaded_sound", "attacker", match_data(target), f"192.0.2.{i % 4}")
            for i in range(70)]
    assert [r.status_code for r in sent] == [200] * 70  # nothing ever fills the queue

    def all_done(messages):
        return sum(m.get("msg") == "process_completed" for m in messages) >= 69
    refusals = events(url, "attacker", all_done)
    text = json.dumps(refusals, ensure_ascii=False)
    assert text.count("A match is already running for this page — stop it or wait for it to finish") >= 69 * 2
    assert mp.MATCHES.running("attacker")  # the first still holds its slot

    # Another visitor renders at once and loads the page, its load events included.
    client = gradio_client.Client(server.local_url, verbose=False)
    start = time.monotonic()
    path = client.predict("bass", api_name="/render_preset")
    assert time.monotonic() - start < 30
    assert soundfile.info(path).samplerate == 48_000
    assert httpx.get(url + "/", timeout=30).status_code == 200
    loaded = join(url, server, "badge_now", "newcomer", [])
    assert loaded.status_code == 200
    done = events(url, "newcomer", lambda ms: any(m.get("msg") == "process_completed" for m in ms))
    assert [m["success"] for m in done if m.get("msg") == "process_completed"] == [True]

    assert mp.MATCHES.cancel("attacker")  # Cancel reaches the held match; its slot is free again
    deadline = time.monotonic() + 20
    while jobs.GATE.count("match") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.GATE.count("match") == 0


def test_many_pages_matching_at_once_are_bounded_and_told_the_studio_is_busy(server, target):
    url = server.local_url.rstrip("/")
    pages = [f"page-{i}" for i in range(8)]
    for page in pages:
        assert join(url, server, "match_uploaded_sound", page, match_data(target)).status_code == 200
    deadline = time.monotonic() + 30
    while jobs.GATE.count("match") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert jobs.GATE.count("match") == 5  # one runs, four wait; the other three were refused at once
    refused = [page for page in pages if not mp.MATCHES.running(page)]
    assert len(refused) == 3
    text = json.dumps(events(url, refused[0], lambda ms: any(m.get("msg") == "process_completed" for m in ms)),
                      ensure_ascii=False)
    assert "The studio is busy: 5 long jobs are running or waiting (5 like this one), so a match was not " \
           "started. Try again in a minute" in text
    for page in pages:
        mp.MATCHES.cancel(page)
    while jobs.GATE.count() and time.monotonic() < deadline + 30:
        time.sleep(0.05)
    assert jobs.GATE.count() == 0


def test_a_preset_of_a_shape_the_public_studio_does_not_offer_is_refused_without_compiling(server, tmp_path):
    preset = dataclasses.replace(factory_preset("pad"), settings=RenderSettings(sample_rate=192_000, duration=29.0))
    path = tmp_path / "huge.yaml"
    path.write_text(dumps_preset(preset))
    client = gradio_client.Client(server.local_url, verbose=False)
    start = time.monotonic()
    with pytest.raises(Exception, match=r"this public studio renders at 48 kHz with a buffer length of 0\.5, 1, 2, "
                                        r"3, 4 s \(control rate 480 Hz\); this sound asks for 192 kHz × 29 s"):
        client.predict(gradio_client.handle_file(str(path)), api_name="/render_preset_file")
    assert time.monotonic() - start < 5  # compiling it takes 8–14 s
    assert (192_000, 192_000 * 29) not in voice.cached_renderer_shapes()
    ok = dataclasses.replace(preset, settings=RenderSettings(duration=3.0))
    path.write_text(dumps_preset(ok))
    audio, sr = soundfile.read(client.predict(gradio_client.handle_file(str(path)), api_name="/render_preset_file"))
    assert sr == 48_000 and len(audio) == 3 * 48_000  # an offered shape renders


def test_tools_are_admitted_per_page(server, monkeypatch):
    """Variations, strips and maps reach the gate with their page's session (not one shared by every page)."""
    from studio.ui import explore_panel

    seen = []

    def variations_of(*args, **kwargs):
        seen.append(sorted((t.session, t.kind) for t in jobs.GATE._tickets))
        raise StudioError("stop here")

    monkeypatch.setattr(explore_panel, "variations_of", variations_of)
    url = server.local_url.rstrip("/")
    assert join(url, server, "make", "page-a", [None, 0.25, 8, 0, []]).status_code == 200
    done = events(url, "page-a", lambda ms: any(m.get("msg") == "process_completed" for m in ms))
    assert "stop here" in json.dumps(done)
    assert seen == [[("page-a", "variations")]]
    assert jobs.GATE.count() == 0  # released however the job ended


def test_one_address_keeps_few_long_jobs_however_many_fresh_pages_it_opens(server, target):
    """Fresh sessions each get a page's share of the gate; one address gets PUBLIC_CLIENT_LONG_JOBS in all."""
    from studio import limits as studio_limits

    url = server.local_url.rstrip("/")
    cap = studio_limits.PUBLIC_CLIENT_LONG_JOBS
    assert jobs.GATE.limits.client_total == cap == 3
    pages = [f"fresh-{i}" for i in range(cap + 1)]
    try:
        for page in pages[:cap]:
            assert join(url, server, "match_uploaded_sound", page, match_data(target), "198.51.100.9").status_code \
                == 200
        deadline = time.monotonic() + 30
        while jobs.GATE.count("match") < cap and time.monotonic() < deadline:
            time.sleep(0.05)
        assert jobs.GATE.count("match") == cap
        assert join(url, server, "match_uploaded_sound", pages[cap], match_data(target), "198.51.100.9") \
            .status_code == 200
        text = json.dumps(events(url, pages[cap], lambda ms: any(m.get("msg") == "process_completed" for m in ms)),
                          ensure_ascii=False)
        assert "Your address already has 3 long jobs running or waiting (at most 3 from one address, across all " \
               "its pages): wait for one to finish, then try again." in text
        assert not mp.MATCHES.running(pages[cap]) and jobs.GATE.count("match") == cap
        # another address is not held up by it
        assert join(url, server, "match_uploaded_sound", "neighbour", match_data(target), "198.51.100.10") \
            .status_code == 200
        while jobs.GATE.count("match") < cap + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mp.MATCHES.running("neighbour")
    finally:
        for page in [*pages, "neighbour"]:
            mp.MATCHES.cancel(page)
        deadline = time.monotonic() + 30
        while jobs.GATE.count() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert jobs.GATE.count() == 0


def test_the_gate_counts_an_address_across_sessions():
    gate = JobGate(limits(running={kind: 8 for kind in jobs.JOB_KINDS}, waiting=8, total=64, client_total=2))
    gate.admit("a", "match", client="203.0.113.5")
    gate.admit("b", "prompt", client="203.0.113.5")
    with pytest.raises(JobRefused, match="Your address already has 2 long jobs running or waiting"):
        gate.admit("c", "map", client="203.0.113.5")
    gate.admit("c", "map", client="203.0.113.6")  # another address
    gate.admit("d", "map")  # direct calls (no request) have no address


def test_turns_go_round_the_addresses_so_one_that_rejoins_at_once_cannot_hold_every_slot():
    """The load test's attacker kept two paper jobs waiting and rejoined as soon as one ended: first come, first
    served gave it every running slot and the other visitors' jobs finished none."""
    gate = JobGate(limits(running={kind: 1 for kind in jobs.JOB_KINDS}, waiting=8, total=64))
    attacker = "203.0.113.66"
    running = gate.admit("a1", "match", client=attacker)
    assert next(gate.wait_turn(running), "runs") == "runs"
    queued = gate.admit("a2", "match", client=attacker)  # the attacker's next job waits before the visitor's
    visitor = gate.admit("v1", "match", client="198.51.100.7")
    gate.release(running)
    assert next(gate.wait_turn(queued, tick_s=0.01)) == 0  # it came first, yet the visitor's turn comes first
    assert next(gate.wait_turn(visitor), "runs") == "runs"
    again = gate.admit("a3", "match", client=attacker)
    gate.release(visitor)
    assert next(gate.wait_turn(queued), "runs") == "runs"  # then the attacker's, by arrival among its own
    assert next(gate.wait_turn(again, tick_s=0.01)) == 0  # waits: the attacker's other job holds the slot


def test_a_flood_of_requests_from_one_address_is_refused_while_another_goes_through(server):
    """Public mode charges every POST to its address: a flood gets 429 with a reason and Retry-After before
    Gradio's queue sees it; another address (and page loads) still go through."""
    from studio import limits as studio_limits

    url = server.local_url.rstrip("/")
    with httpx.Client(timeout=30, headers={"X-Forwarded-For": "203.0.113.77"}) as http:  # (empty joins: cheap)
        replies = [http.post(f"{url}/gradio_api/queue/join", json={}) for _ in range(studio_limits.EVENT_BURST + 60)]
    codes = [r.status_code for r in replies]
    assert 429 not in codes[:studio_limits.EVENT_BURST]  # Gradio answered them (422: not a valid event)
    refused = [r for r in replies if r.status_code == 429]
    assert len(refused) >= 30
    assert refused[0].text.startswith("Too many requests from this address: at most 60 at once and 10 a second. "
                                      "Try again in ")
    assert int(refused[0].headers["retry-after"]) >= 1
    assert refused[0].headers["x-content-type-options"] == "nosniff"
    other = join(url, server, "badge_now", "calm-visitor", [], "203.0.113.78")
    assert other.status_code == 200
    done = events(url, "calm-visitor", lambda ms: any(m.get("msg") == "process_completed" for m in ms))
    assert [m["success"] for m in done if m.get("msg") == "process_completed"] == [True]
    assert httpx.get(url + "/", headers={"X-Forwarded-For": "203.0.113.77"}, timeout=30).status_code == 200


def test_one_address_keeps_few_events_running(server, target, monkeypatch):
    """Long jobs skip the queue's limits and Gradio runs at most 40 events at once in all: one address sending match
    after match held 39 of them, each decoding its upload before the gate refused it, and another visitor's render
    waited 10–40 s for a free one. A join is refused (429) while its address has EVENT_RUNNING_PER_ADDRESS running."""
    from studio import limits as studio_limits

    monkeypatch.setattr(studio_limits, "EVENT_RUNNING_PER_ADDRESS", 2)
    url = server.local_url.rstrip("/")
    address = "198.51.100.60"
    sessions = ["running-1", "running-2"]
    try:
        for session in sessions:  # held matches (see the server fixture): they run until cancelled
            assert join(url, server, "match_uploaded_sound", session, match_data(target), address).status_code == 200
        deadline = time.monotonic() + 30
        while sum(1 for job in server._queue.active_jobs if job for e in job if e.session_hash in sessions) < 2:
            assert time.monotonic() < deadline, "the matches did not start"
            time.sleep(0.05)
        refused = join(url, server, "match_uploaded_sound", "running-3", match_data(target), address)
        assert refused.status_code == 429
        assert refused.text == ("Too many requests from this address are running in the studio (at most 2 at once). "
                                "Try again in 2 s.")
        assert join(url, server, "badge_now", "another-address", [], "198.51.100.61").status_code == 200
    finally:
        for session in sessions:
            mp.MATCHES.cancel(session)


def test_the_request_rate_refills_and_forgets_idle_addresses():
    from studio.ui.http import RequestRate

    rate = RequestRate(burst=3, rate_per_s=2.0, max_clients=2)
    assert [rate.take("a", now=0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert rate.take("a", now=0.5) == 0.0  # one token back after 0.5 s
    rate.take("b", now=0.5)
    rate.take("c", now=10.0)  # a and b are full again: forgotten
    assert set(rate._buckets) == {"c"}


def test_one_address_keeps_few_events_waiting_in_the_shared_queue(server, monkeypatch):
    """Within the request rate, one address rejoining from fresh sessions kept most of Gradio's 64 queue places and
    every other visitor waited behind it: a join is refused (429) while its address has 8 events waiting."""
    from studio import limits as studio_limits
    from studio.ui import app as app_module

    release = threading.Event()
    real = app_module.render_audio

    def held_render(preset):
        release.wait(60)
        return real(preset)

    monkeypatch.setattr(app_module, "render_audio", held_render)
    url = server.local_url.rstrip("/")
    running = server.fns[fn_index(server, "render_preset")].concurrency_limit
    cap = studio_limits.EVENT_QUEUED_PER_ADDRESS
    try:
        codes = []
        for i in range(running + cap + 3):
            codes.append(join(url, server, "render_preset", f"queue-{i}", ["bass"], "198.51.100.50").status_code)
            time.sleep(0.15)  # the first ones reach their render slots before the rest arrive
        assert codes.count(200) <= running + cap and codes[-1] == 429
        refused = join(url, server, "render_preset", "queue-last", ["bass"], "198.51.100.50")
        assert refused.status_code == 429
        assert refused.text.startswith("Too many requests from this address are waiting in the studio's queue "
                                       "(at most 8).")
        assert join(url, server, "render_preset", "queue-other", ["bass"], "198.51.100.51").status_code == 200
    finally:
        release.set()
