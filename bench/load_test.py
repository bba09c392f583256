"""Can one visitor take the public studio down? A load test with and without an attacker (issue 13, Acceptance).

The studio runs as its own process (``python app.py --public --port P --library TMP``), so its resident memory is
read from ``/proc``. Each run lasts ``--seconds`` and has, all at once:

* **well-behaved render clients**: ``--clients`` ``gradio_client`` clients calling ``/render_preset`` back to back,
  either each on a different factory preset (*mixed*) or all on ``bass`` (*same*). Every downloaded WAV is read in
  full and its frame count and rate compared with the preset's; a download cut short, unreadable or of the wrong
  length counts as *truncated*;
* **well-behaved long jobs**: ``--long-jobs`` visitors running quick prompt searches and quick matches (half each)
  through Gradio's queue as the page does (the page's events are not in ``gradio_client``'s API, so raw HTTP:
  ``/gradio_api/queue/join`` + the event stream, by the event's index in ``/config``);
* **page loads**: one visitor loading ``GET /`` every ``--page-interval`` seconds: refused (not 200) or not;
* in an *attacker* run, **one hostile client** besides: ``--attack-jobs`` long jobs kept waiting at once (paper-budget
  matches and prompt searches, each in a fresh session, rejoined as soon as one ends or is refused), and
  ``--attack-shapes`` threads sending ``/render_preset_file`` presets at 192 kHz with durations from
  ``--attack-durations`` (a new render shape each, so a new compile each). The attacker runs in a process of its
  own, niced by ``--attacker-nice`` (10): it stands for a client on another machine, and its threads must not
  share the well-behaved clients' GIL (in one process they slowed the clients' own side of every request).

The server trusts one proxy (``SYNTH_STUDIO_TRUST_PROXY=1``, as inside a Space) and every simulated visitor sends
its own ``X-Forwarded-For`` address, the attacker one address for all its threads: so the per-address limits (the
request rate, the long jobs per address) see visitors as they would behind a Space's proxy.

Reported for the well-behaved clients: requests, errors, truncated downloads, p50/p95/max latency, page loads
refused; for the attacker: what it got done and what was refused (by the job gate, or by the request rate with
HTTP 429); for the server: resident memory before and after each run (after ``--settle`` seconds of rest following
an attack) and tracebacks in its log; and the issue's targets: 0 errors, 0 truncated, p95 within 2× of the
run without an attacker, memory back within 10 % after the attack, page loads never refused.

Run (the issue's load, ~8 minutes): ``PYTHONPATH=. python bench/load_test.py``; a smoke:
``PYTHONPATH=. python bench/load_test.py --seconds 10 --clients 4 --long-jobs 2 --attack-jobs 4 --attack-shapes 1``.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, cpu_name  # noqa: E402

sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_P95_RATIO = 2.0
TARGET_MEMORY_GROWTH = 0.10


# ----------------------------------------------------------------------------------------------------------------
# The server, as a separate process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py --public`` on a free port with a temporary library; its log goes to a file."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        env = dict(os.environ, GRADIO_TEMP_DIR=str(workdir / "gradio"), PYTHONUNBUFFERED="1",
                   SYNTH_STUDIO_TRUST_PROXY="1")  # visitors' addresses come in X-Forwarded-For (see visitor)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--public", "--port", str(self.port), "--library",
             str(workdir / "library")], cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> float:
        import httpx

        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see {self.log_path}")
            try:
                if httpx.get(self.url + "/", timeout=5).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s; see {self.log_path}")

    def wait_prepared(self, timeout: float = 600.0) -> float:
        """Wait until the server says its start-up preparations (compilations, UMAP's numba, CLAP or the scorer)
        have ended, so no run measures them; seconds waited."""
        from studio.background import READY_LINE

        start = time.perf_counter()
        while READY_LINE not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.perf_counter() - start > timeout:
                raise RuntimeError(f"the server never said {READY_LINE!r}; see {self.log_path}")
            time.sleep(1.0)
        return time.perf_counter() - start

    def rss_mb(self) -> float:
        """Resident memory of the server and its children, MiB."""
        total = 0
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            pids += [int(p) for p in children]
        except OSError:
            pass
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024.0

    def tracebacks(self) -> int:
        return self.log_path.read_text(errors="replace").count("Traceback (most recent call last)")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# ----------------------------------------------------------------------------------------------------------------
# Visitors' addresses (the server trusts one proxy: the last X-Forwarded-For address is the visitor's)

ATTACKER_ADDRESS = "203.0.113.66"
_addresses = itertools.count(1)


def visitor() -> dict:
    """Headers of a new well-behaved visitor: an address of its own."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.1.{n // 256}.{n % 256}"}


def attacker() -> dict:
    return {"X-Forwarded-For": ATTACKER_ADDRESS}


# ----------------------------------------------------------------------------------------------------------------
# Raw queue calls (the page's own events)


class Queue:
    """Joins Gradio's queue for an event by its ``api_name`` in ``/config`` and follows its event stream."""

    def __init__(self, url: str):
        import httpx

        self.url = url
        config = httpx.get(url + "/config", timeout=30).json()
        self.events = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}

    def upload(self, path: Path, headers: dict | None = None) -> dict:
        import httpx

        with open(path, "rb") as f:
            reply = httpx.post(self.url + "/gradio_api/upload", files={"files": (path.name, f, "audio/wav")},
                               timeout=60, headers=headers)
        reply.raise_for_status()
        return {"path": reply.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def run(self, api_name: str, data: list, session: str, stop: threading.Event, streams: set,
            headers: dict) -> tuple[str, str]:
        """``(outcome, message)``: outcome "ok", "error" (the event failed or said so), "refused" (the join was
        refused, e.g. queue full), "limited" (refused by the rate limit: HTTP 429) or "cut" (``stop`` was set
        first). ``headers``: the visitor's (its address)."""
        import httpx

        event = self.events[api_name]
        body = {"data": data, "fn_index": event["id"], "session_hash": session, "event_data": None,
                "trigger_id": event["targets"][0][0] if event["targets"] else None}
        with httpx.Client(timeout=httpx.Timeout(30.0, read=None), headers=headers) as http:
            reply = http.post(self.url + "/gradio_api/queue/join", json=body)
            if reply.status_code == 429:
                return "limited", f"HTTP 429: {reply.text[:120]}"
            if reply.status_code != 200:
                return "refused", f"HTTP {reply.status_code}: {reply.text[:120]}"
            try:
                with http.stream("GET", self.url + "/gradio_api/queue/data",
                                 params={"session_hash": session}) as stream:
                    streams.add(stream)
                    try:
                        for line in stream.iter_lines():
                            if stop.is_set():
                                return "cut", ""
                            if not line.startswith("data:"):
                                continue
                            message = json.loads(line[5:])
                            if message.get("msg") != "process_completed":
                                continue
                            output = message.get("output") or {}
                            if not message.get("success"):
                                return "error", str(output.get("error"))[:160]
                            text = json.dumps(output.get("data"), ensure_ascii=False)
                            if "Failed" in text or "✗" in text:
                                return "error", text[:160]
                            return "ok", ""
                    finally:
                        streams.discard(stream)
            except httpx.HTTPError as error:
                return ("cut", "") if stop.is_set() else ("error", f"{type(error).__name__}: {error}"[:160])
        return ("cut", "") if stop.is_set() else ("error", "the event stream ended without a result")


def prompt_search_inputs(prompt: str, budget: str, seed: int) -> list:
    return [None, prompt, "", "", "", "", budget, "learned_es", seed, 1, [], None, None]


def match_inputs(target: dict, budget: str, seed: int) -> list:
    return [target, False, False, budget, "learned_es", seed, 1, [], None, None]


def long_job(queue: Queue, kind: str, budget: str, seed: int, target: dict, stop, streams,
             headers: dict) -> tuple[str, str]:
    """One prompt search (claimed first, as the page does) or one match, in a fresh session."""
    session = uuid.uuid4().hex[:12]
    if kind == "prompt":
        prompt = ("short bright pluck", "warm pad", "laser zap", "deep bass")[seed % 4]
        outcome, message = queue.run("start_prompt_search", [prompt], session, stop, streams, headers)
        if outcome != "ok":
            return outcome, message
        return queue.run("search_prompt", prompt_search_inputs(prompt, budget, seed), session, stop, streams,
                         headers)
    return queue.run("match_uploaded_sound", match_inputs(target, budget, seed), session, stop, streams, headers)


# ----------------------------------------------------------------------------------------------------------------
# One run


@dataclasses.dataclass
class Tally:
    latencies: list = dataclasses.field(default_factory=list)
    requests: int = 0
    errors: int = 0
    truncated: int = 0
    refused: int = 0
    limited: int = 0  # refused by the rate limit (HTTP 429)
    cut: int = 0
    messages: Counter = dataclasses.field(default_factory=Counter)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def add(self, outcome: str, seconds: float | None = None, message: str = "") -> None:
        with self.lock:
            if outcome == "cut":
                self.cut += 1
                return
            self.requests += 1
            if outcome == "ok":
                self.latencies.append(seconds)
                return
            field = {"error": "errors", "truncated": "truncated", "refused": "refused", "limited": "limited"}[outcome]
            setattr(self, field, getattr(self, field) + 1)
            self.messages[message[:120]] += 1

    def as_dict(self) -> dict:
        """Everything but the lock (a tally crosses from the attacker's process)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "lock"}

    def percentiles(self) -> tuple[float, float, float]:
        if not self.latencies:
            return (float("nan"),) * 3
        ms = np.asarray(self.latencies) * 1e3
        return float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.max())


def expected_frames() -> dict[str, tuple[int, int]]:
    from studio.presets import factory_presets

    return {p.name: (p.settings.num_samples, p.settings.sample_rate) for p in factory_presets()}


def connect(url: str, download_dir: Path, tally: Tally, headers: dict | None = None):
    """A ``gradio_client.Client`` downloading into its own folder (clients sharing one would read, and delete,
    each other's files: a content-named file is the same path for every client), or None, counted as an error."""
    from gradio_client import Client

    download_dir.mkdir(parents=True, exist_ok=True)
    try:
        return Client(url + "/", verbose=False, download_files=str(download_dir), headers=headers or visitor())
    except Exception as error:  # could not even connect
        tally.add("error", message=f"connect: {type(error).__name__}: {error}")
        return None


def render_client(client, names, frames: dict, tally: Tally, deadline: float) -> None:
    import soundfile

    if client is None:
        return
    for name in names:
        if time.perf_counter() >= deadline:
            return
        start = time.perf_counter()
        try:
            path = client.predict(name, api_name="/render_preset")
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            cut_short = any(s in text for s in ("Content-Length", "incomplete", "RemoteProtocolError"))
            tally.add("truncated" if cut_short else "error", message=text)
            continue
        seconds = time.perf_counter() - start
        try:
            audio, rate = soundfile.read(path, dtype="int16")
            want_frames, want_rate = frames[name]
            ok = rate == want_rate and len(audio) == want_frames
            message = "" if ok else f"{name}: {len(audio)} frames at {rate} Hz, expected {want_frames} at {want_rate}"
        except Exception as error:
            ok, message = False, f"{name}: unreadable WAV ({type(error).__name__}: {error})"
        tally.add("ok" if ok else "truncated", seconds, message)
        try:
            os.remove(path)
        except OSError:
            pass


def long_job_client(queue: Queue, kind: str, target: dict, tally: Tally, stop, streams, seed0: int) -> None:
    headers = visitor()
    for i in itertools.count():
        if stop.is_set():
            return
        start = time.perf_counter()
        outcome, message = long_job(queue, kind, "quick", seed0 + i, target, stop, streams, headers)
        tally.add(outcome, time.perf_counter() - start, f"{kind}: {message}")


def page_client(url: str, interval: float, tally: Tally, stop) -> None:
    import httpx

    headers = visitor()
    while not stop.is_set():
        start = time.perf_counter()
        try:
            reply = httpx.get(url + "/", timeout=30, headers=headers)
            outcome = "ok" if reply.status_code == 200 else "refused"
            message = f"HTTP {reply.status_code}"
        except httpx.HTTPError as error:
            outcome, message = "refused", f"{type(error).__name__}: {error}"
        tally.add(outcome, time.perf_counter() - start, message)
        stop.wait(interval)


def attack_jobs(queue: Queue, target: dict, tally: Tally, stop, streams, seed0: int) -> None:
    for i in itertools.count():
        if stop.is_set():
            return
        kind = "match" if i % 2 == 0 else "prompt"
        outcome, message = long_job(queue, kind, "paper", seed0 + i, target, stop, streams, attacker())
        tally.add(outcome, 0.0, f"{kind}: {message}")  # "cut": still waiting or running when the run ended
        if outcome in ("refused", "limited"):
            stop.wait(0.2)  # a flood, not a busy loop on this machine's cores


def attack_shapes(url: str, preset_files: list[Path], tally: Tally, stop, download_dir: Path) -> None:
    from gradio_client import handle_file

    client = connect(url, download_dir, tally, attacker())
    if client is None:
        return
    for path in itertools.cycle(preset_files):
        if stop.is_set():
            return
        start = time.perf_counter()
        try:
            out = client.predict(handle_file(str(path)), api_name="/render_preset_file")
            tally.add("ok", time.perf_counter() - start)
            os.remove(out)
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            limited = "429" in text or "Too many requests" in text
            tally.add("limited" if limited else "error", message=text)
            if limited:
                stop.wait(0.2)  # as attack_jobs: a flood, not a busy loop on this machine's cores


def attacker_process(url: str, target: dict, jobs: int, shape_files: list, shapes: int, download_dir: str,
                     seconds: float, nice: int, results) -> None:
    """The attacker, in a process of its own (its threads would otherwise share the well-behaved clients' GIL and
    slow *their* side of every request: in one process its 69 threads took 1.5 of the machine's 2 cores and the
    server 0.4), niced by ``nice`` as a stand-in for the other machine an attacker runs on. Puts its two tallies
    (long jobs, odd shapes) as dicts on ``results`` and its request count per second."""
    os.nice(nice)
    queue = Queue(url)
    jobs_tally, shapes_tally, stop, streams = Tally(), Tally(), threading.Event(), set()
    threads = [threading.Thread(target=attack_jobs, daemon=True, args=(queue, target, jobs_tally, stop, streams,
                                                                       1000 * i)) for i in range(jobs)]
    threads += [threading.Thread(target=attack_shapes, daemon=True,
                                 args=(url, [Path(f) for f in shape_files[i::max(1, shapes)] or shape_files],
                                       shapes_tally, stop, Path(download_dir) / f"attacker-{i}"))
                for i in range(shapes)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for stream in list(streams):
        try:
            stream.close()
        except Exception:
            pass
    for t in threads:
        t.join(timeout=30)
    results.put((jobs_tally.as_dict(), shapes_tally.as_dict()))


def odd_presets(folder: Path, durations: list[float]) -> list[Path]:
    """Factory presets at 192 kHz with the given durations: a render shape the studio has not compiled each (each
    attacker run shifts the durations, so its shapes are new to the server too)."""
    from studio.presets import dumps_preset, factory_presets

    presets = factory_presets()
    paths = []
    for i, duration in enumerate(durations):
        base = presets[i % len(presets)]
        settings = dataclasses.replace(base.settings, sample_rate=192_000, duration=float(duration))
        preset = dataclasses.replace(base, name=f"odd {i}", settings=settings)
        path = folder / f"odd-{duration:g}s-{i}.yaml"
        path.write_text(dumps_preset(preset))
        paths.append(path)
    return paths


def target_wav(folder: Path) -> Path:
    """A plain decaying tone to match (1 s, 48 kHz)."""
    import soundfile

    t = np.arange(48_000) / 48_000
    audio = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)
    path = folder / "target.wav"
    soundfile.write(path, audio.astype(np.float32), 48_000, subtype="PCM_16")
    return path


def one_run(server: Server, queue: Queue, args, mode: str, attacker: bool, work: Path, target: dict,
            frames: dict, attack_number: int = 0) -> dict:
    label = f"{mode}, {'attacker' if attacker else 'no attacker'}"
    attack = f", attacker: {args.attack_jobs} long jobs + {args.attack_shapes} odd-shape threads" if attacker else ""
    print(f"\n— run: {label} ({args.seconds:g} s, {args.clients} render clients, {args.long_jobs} long jobs"
          f"{attack})", flush=True)
    tracebacks_before = server.tracebacks()
    rss_before = server.rss_mb()
    renders, longs, pages, hostile_jobs, hostile_shapes = Tally(), Tally(), Tally(), Tally(), Tally()
    stop = threading.Event()
    streams: set = set()
    names = sorted(frames)
    threads = []
    downloads = work / f"downloads-{mode}-{int(attacker)}"
    downloads.mkdir(exist_ok=True)
    clients = [connect(server.url, downloads / f"client-{i}", renders) for i in range(args.clients)]
    deadline = time.perf_counter() + args.seconds  # the clock starts once every client is connected
    hostile, hostile_results = None, None
    if attacker:
        import multiprocessing

        shift = 0.25 * attack_number
        odd_files = odd_presets(work, [float(d) + shift for d in args.attack_durations.split(",") if d.strip()])
        context = multiprocessing.get_context("spawn")
        hostile_results = context.Queue()
        hostile = context.Process(target=attacker_process, daemon=True, args=(
            server.url, target, args.attack_jobs, [str(f) for f in odd_files], args.attack_shapes, str(downloads),
            args.seconds, args.attacker_nice, hostile_results))
        hostile.start()
    for i, client in enumerate(clients):
        sequence = itertools.cycle(names[i % len(names):] + names[:i % len(names)]) if mode == "mixed" \
            else itertools.repeat("bass")
        threads.append(threading.Thread(target=render_client, daemon=True,
                                        args=(client, sequence, frames, renders, deadline)))
    for i in range(args.long_jobs):
        threads.append(threading.Thread(target=long_job_client, daemon=True,
                                        args=(queue, ("prompt", "match")[i % 2], target, longs, stop, streams,
                                              100 * i)))
    threads.append(threading.Thread(target=page_client, daemon=True, args=(server.url, args.page_interval, pages,
                                                                             stop)))
    peak = rss_before
    for t in threads:
        t.start()
    while time.perf_counter() < deadline:
        time.sleep(0.5)
        peak = max(peak, server.rss_mb())
    stop.set()
    for stream in list(streams):  # long jobs still waiting or running: leave (Gradio drops a left session's events)
        try:
            stream.close()
        except Exception:
            pass
    grace = time.perf_counter() + args.grace
    for t in threads:
        t.join(timeout=max(0.1, grace - time.perf_counter()))
    unfinished = sum(t.is_alive() for t in threads)
    if hostile is not None:
        try:
            jobs_done, shapes_done = hostile_results.get(timeout=max(5.0, grace - time.perf_counter() + 60))
            hostile_jobs, hostile_shapes = Tally(**jobs_done), Tally(**shapes_done)
        except Exception as error:  # the attacker's process died: say so, count nothing
            print(f"note: the attacker's process reported nothing ({type(error).__name__})", flush=True)
        hostile.join(timeout=10)
    rss_end = server.rss_mb()
    if attacker and args.settle > 0:
        time.sleep(args.settle)
    rss_after = server.rss_mb()
    shutil.rmtree(downloads, ignore_errors=True)
    return dict(mode=mode, attacker=attacker, label=label, renders=renders, longs=longs, pages=pages,
                hostile_jobs=hostile_jobs, hostile_shapes=hostile_shapes, rss_before=rss_before, rss_peak=peak,
                rss_end=rss_end, rss_after=rss_after, unfinished=unfinished,
                tracebacks=server.tracebacks() - tracebacks_before)


# ----------------------------------------------------------------------------------------------------------------
# Report


def fmt(x: float, digits: int = 0) -> str:
    return "–" if x != x else f"{x:,.{digits}f}"


def report(results: list[dict], args) -> bool:
    print("\n## Well-behaved clients\n")
    print("| run | render requests | errors | truncated | p50 ms | p95 ms | max ms "
          "| long jobs done / errors / refused / unfinished | page loads (refused) "
          "| server RSS MiB before → peak → after | tracebacks in log |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|")
    for r in results:
        p50, p95, top = r["renders"].percentiles()
        longs, pages = r["longs"], r["pages"]
        print(f"| {r['label']} | {r['renders'].requests} | {r['renders'].errors} | {r['renders'].truncated} "
              f"| {fmt(p50)} | {fmt(p95)} | {fmt(top)} "
              f"| {len(longs.latencies)} / {longs.errors + longs.truncated} / {longs.refused} / {longs.cut} "
              f"| {pages.requests} ({pages.refused}) "
              f"| {fmt(r['rss_before'])} → {fmt(r['rss_peak'])} → {fmt(r['rss_after'])} | {r['tracebacks']} |")
    attacked = [r for r in results if r["attacker"]]
    if attacked:
        print("\n## The attacker\n")
        print("| run | requests sent a second | long jobs finished | still queued or running at the end | refused "
              "| refused by rate (429) | errors | 192 kHz renders done | refused by rate (429) | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in attacked:
            j, s = r["hostile_jobs"], r["hostile_shapes"]
            rate = (j.requests + j.cut + s.requests) / args.seconds
            print(f"| {r['label']} | {rate:.1f} | {len(j.latencies)} | {j.cut} | {j.refused} | {j.limited} "
                  f"| {j.errors} | {len(s.latencies)} | {s.limited} | {s.errors} |")
    messages = Counter()
    for r in results:
        for tally in (r["renders"], r["longs"], r["pages"]):
            messages.update({f"{r['label']}: {m}": n for m, n in tally.messages.items()})
    if messages:
        print("\nWell-behaved clients' errors (most frequent first):")
        for message, n in messages.most_common(8):
            print(f"  {n:5d} × {message}")
    hostile = Counter()
    for r in attacked:
        for tally in (r["hostile_jobs"], r["hostile_shapes"]):
            hostile.update({f"{r['label']}: {m}": n for m, n in tally.messages.items()})
    if hostile:
        print("\nThe attacker's refusals and errors (most frequent first):")
        for message, n in hostile.most_common(5):
            print(f"  {n:5d} × {message}")

    print("\n## Targets (issue 13)\n")
    print("| run | 0 errors | 0 truncated | p95 ≤ 2× no-attacker | memory back within 10 % "
          "| page loads never refused |")
    print("|---|---|---|---|---|---|")
    all_met = True
    baseline = {r["mode"]: r for r in results if not r["attacker"]}

    def mark(ok: bool | None, detail: str = "") -> str:
        return "–" if ok is None else (f"{'✓' if ok else '✗'} {detail}".strip())

    for r in results:
        errors = r["renders"].errors + r["longs"].errors + r["longs"].refused
        truncated = r["renders"].truncated
        ratio_ok = memory_ok = None
        ratio_text = memory_text = ""
        if r["attacker"] and r["mode"] in baseline:
            base_p95 = baseline[r["mode"]]["renders"].percentiles()[1]
            p95 = r["renders"].percentiles()[1]
            ratio = p95 / base_p95 if base_p95 == base_p95 and base_p95 > 0 else float("nan")
            ratio_ok = ratio == ratio and ratio <= TARGET_P95_RATIO
            ratio_text = f"{fmt(ratio, 2)}×"
        if r["attacker"]:
            growth = r["rss_after"] / r["rss_before"] - 1 if r["rss_before"] else float("nan")
            memory_ok = growth == growth and growth <= TARGET_MEMORY_GROWTH
            memory_text = f"{growth:+.0%}"
        row = [errors == 0, truncated == 0, ratio_ok, memory_ok, r["pages"].refused == 0]
        all_met &= all(ok is not False for ok in row)
        print(f"| {r['label']} | {mark(row[0], str(errors))} | {mark(row[1], str(truncated))} "
              f"| {mark(ratio_ok, ratio_text)} | {mark(memory_ok, memory_text)} "
              f"| {mark(row[4], str(r['pages'].refused))} |")
    print(f"\n{'All targets met.' if all_met else 'Targets NOT met (✗ above).'}")
    return all_met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="well-behaved /render_preset clients (20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run (60)")
    parser.add_argument("--long-jobs", type=int, default=4,
                        help="well-behaved visitors running quick prompt searches and matches, half each (4)")
    parser.add_argument("--modes", default="mixed,same", help="render runs: mixed presets and/or the same one")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-attacker-only", action="store_true", help="only the runs without an attacker")
    which.add_argument("--attacker-only", action="store_true", help="only the runs with the attacker (no ratio)")
    parser.add_argument("--attack-jobs", type=int, default=65,
                        help="long jobs (paper matches and prompt searches) the attacker keeps waiting (65)")
    parser.add_argument("--attack-shapes", type=int, default=4,
                        help="attacker threads sending 192 kHz presets of new durations (4)")
    parser.add_argument("--attack-durations", default="18,19,20,21,22,23,24,25,26,27,28,29",
                        help="durations (s) of the attacker's 192 kHz presets")
    parser.add_argument("--attacker-nice", type=int, default=10,
                        help="niceness of the attacker's own process (10): it stands for a client on another "
                             "machine, so it should not take this machine's cores from the server")
    parser.add_argument("--page-interval", type=float, default=1.0, help="seconds between page loads (1)")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="rest after an attack before memory is read again (20 s)")
    parser.add_argument("--grace", type=float, default=60.0,
                        help="how long requests in flight at the end of a run may take to finish (60 s)")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server log, library)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="synth-load-test-"))
    print(f"# Load test of the public studio — {cpu_name()}, {os.cpu_count()} cores; work folder {work}")
    print("command: python bench/load_test.py " + " ".join(sys.argv[1:] if argv is None else argv))
    frames = expected_frames()
    server = Server(work, args.port)
    try:
        print(f"server pid {server.process.pid} on {server.url}: page served after {server.wait_ready():.1f} s",
              flush=True)
        queue = Queue(server.url)
        target = queue.upload(target_wav(work), visitor())
        # Warm: every factory preset once (their shapes compile at start-up; this waits for that to finish).
        from gradio_client import Client

        warm = Client(server.url + "/", verbose=False, download_files=str(work), headers=visitor())
        for name in sorted(frames):
            os.remove(warm.predict(name, api_name="/render_preset"))
        print(f"start-up preparations done {server.wait_prepared():.1f} s later", flush=True)
        print(f"warm: every factory preset rendered once; server RSS {server.rss_mb():,.0f} MiB", flush=True)
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        plan = [(m, False) for m in modes] * (not args.attacker_only) + [(m, True) for m in modes] * (
            not args.no_attacker_only)
        results = [one_run(server, queue, args, mode, attacker, work, target, frames, attack_number=i)
                   for i, (mode, attacker) in enumerate(plan)]
        for r in results:
            if r["unfinished"]:
                print(f"note: {r['label']}: {r['unfinished']} client threads were still waiting "
                      f"{args.grace:g} s after the run ended")
        report(results, args)
        print(f"\nserver log: {server.tracebacks()} tracebacks in all ({server.log_path})")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
