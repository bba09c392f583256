"""Many users at once: simulated visitors tweaking knobs against a served studio, renders batched or not (issue 18).

The studio runs as its own process (``python app.py --public``, as in a Space; ``bench/load_test.py``'s
:class:`Server`), once per mode:

* **unbatched**: ``SYNTH_STUDIO_RENDER_BATCH=0``, every render its own synth call (a CPU's default);
* **batched**: ``SYNTH_STUDIO_RENDER_BATCH=N`` (``--batch``, 32), concurrent renders of different visitors go out as
  one synth call of up to N sounds (a GPU's default; ``studio.ui.views.RenderBatcher``).

Each of ``--clients`` ``gradio_client`` clients (its own address in ``X-Forwarded-For``, as visitors behind a Space's
proxy) starts from a factory preset and, for ``--seconds``, moves one knob at a time by a small random step and
renders the result through ``/render_preset_file`` (upload + render + download: a knob release, as a program
sends it), waiting ``--think`` seconds between releases. Every knob position is new, so nothing comes from the
render cache. A ``--warmup`` of the same load comes first and is not counted (the batched server compiles its batch
sizes meanwhile). Every WAV is read back and its length checked; afterwards a sample of the answers (``--verify``
per client) is compared bit for bit with this process's own single render of the same preset.

Reported per mode: requests, errors (truncated or wrong audio included), p50/p95/max latency of a release, renders
per second, and how many sampled answers were bit-identical to a single render.

    PYTHONPATH=. .venv/bin/python bench/multi_user.py                      # 20 clients, 60 s per mode
    PYTHONPATH=. .venv/bin/python bench/multi_user.py --clients 4 --seconds 10 --warmup 10   # a smoke run
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, cpu_name  # noqa: E402
from load_test import Server, Tally, connect, visitor  # noqa: E402

sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

KNOB_STEP = 0.05  # a knob release moves one knob by about this much (θ units)


@dataclasses.dataclass
class Client:
    """One simulated visitor: its preset as it tweaks it, its answers kept for checking."""

    index: int
    base: object  # Preset
    rng: np.random.Generator
    folder: Path
    samples: list = dataclasses.field(default_factory=list)  # (theta, settings, int16 audio) answers kept

    def tweak(self):
        theta = np.asarray(self.base.theta, np.float32).copy()
        knob = int(self.rng.integers(theta.size))
        theta[knob] = float(np.clip(theta[knob] + self.rng.normal(0.0, KNOB_STEP), 0.0, 1.0))
        self.base = dataclasses.replace(self.base, theta=theta)
        return self.base


def tweak_loop(client: Client, gradio: object, tally: Tally, deadline: float, think: float, keep: int,
               counted: bool) -> None:
    import soundfile
    from gradio_client import handle_file

    from studio.presets import dumps_preset

    if gradio is None:
        return
    n = 0
    while time.perf_counter() < deadline:
        preset = client.tweak()
        path = client.folder / f"tweak-{n}.yaml"
        path.write_text(dumps_preset(preset))
        n += 1
        start = time.perf_counter()
        try:
            out = gradio.predict(handle_file(str(path)), api_name="/render_preset_file")
            seconds = time.perf_counter() - start
            audio, rate = soundfile.read(out, dtype="int16")
            ok = rate == preset.settings.sample_rate and len(audio) == preset.settings.num_samples
            message = "" if ok else f"{len(audio)} frames at {rate} Hz, expected {preset.settings.num_samples}"
            if counted:
                tally.add("ok" if ok else "truncated", seconds, message)
            if ok and counted and len(client.samples) < keep:
                client.samples.append((preset.theta.copy(), preset.settings, audio))
            os.remove(out)
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            if counted:
                tally.add("error", message=f"{type(error).__name__}: {error}")
        finally:
            path.unlink(missing_ok=True)
        if think > 0:
            time.sleep(think)


def run_phase(server_url: str, clients: list[Client], connections: list, seconds: float, think: float, keep: int,
              counted: bool) -> tuple[Tally, float]:
    tally = Tally()
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=tweak_loop, daemon=True, args=(c, g, tally, deadline, think, keep, counted))
               for c, g in zip(clients, connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    return tally, time.perf_counter() - started


def verify(clients: list[Client]) -> tuple[int, int]:
    """(bit-identical, compared) of the kept answers against this process's single renders."""
    from studio.audio.io import to_int16
    from studio.synth import render
    from studio.ui.views import AUDIO_GAIN

    same = total = 0
    for client in clients:
        for theta, settings, audio in client.samples:
            expected = to_int16(np.asarray(render(theta, settings)), gain=AUDIO_GAIN)
            same += int(np.array_equal(audio, expected))
            total += 1
    return same, total


def one_mode(mode: str, batch: int, args, work: Path) -> dict:
    from studio.presets import factory_presets

    os.environ["SYNTH_STUDIO_RENDER_BATCH"] = str(batch if mode == "batched" else 0)
    folder = work / mode
    folder.mkdir()
    server = Server(folder, args.port)
    try:
        ready_s = server.wait_ready()
        print(f"\n— {mode}: server {server.url} (SYNTH_STUDIO_RENDER_BATCH={os.environ['SYNTH_STUDIO_RENDER_BATCH']}) "
              f"served after {ready_s:.1f} s", flush=True)
        presets = factory_presets()
        clients = [Client(i, presets[i % len(presets)], np.random.default_rng(1000 + i), folder / f"client-{i}")
                   for i in range(args.clients)]
        for c in clients:
            c.folder.mkdir()
        setup = Tally()
        connections = [connect(server.url, c.folder / "downloads", setup, visitor()) for c in clients]
        if args.warmup > 0:
            run_phase(server.url, clients, connections, args.warmup, args.think, 0, counted=False)
            print(f"  warm-up: {args.warmup:g} s of the same load (not counted)", flush=True)
        tally, elapsed = run_phase(server.url, clients, connections, args.seconds, args.think, args.verify,
                                   counted=True)
        tally.errors += setup.errors
        tally.messages.update(setup.messages)
        p50, p95, top = tally.percentiles()
        same, compared = verify(clients)
        row = dict(mode=mode, batch=batch if mode == "batched" else 0, requests=tally.requests, errors=tally.errors,
                   truncated=tally.truncated, p50=p50, p95=p95, max=top, rate=len(tally.latencies) / elapsed,
                   same=same, compared=compared, messages=tally.messages.most_common(3),
                   tracebacks=server.tracebacks())
        print(f"  {row['requests']} releases, {row['errors']} errors, p50 {p50:,.0f} ms, p95 {p95:,.0f} ms, "
              f"{row['rate']:.1f} renders/s; {same}/{compared} sampled answers bit-identical to a single render",
              flush=True)
        return row
    finally:
        server.stop()
        os.environ.pop("SYNTH_STUDIO_RENDER_BATCH", None)


def in_process(users: int, seconds: float, batch: int, render_slots: int | None = None) -> dict:
    """The same load without the web server: ``users`` threads in this process, each rendering a new knob position
    of its own sound back to back through ``studio.ui.views.render_audio`` (the path every render of the studio
    takes) for ``seconds``, with renders batched up to ``batch`` a call (0: one per call, ``render_slots`` at once:
    the app's render concurrency). Returns renders, renders/s, p50/p95 latency (ms) and synth calls made (batched).
    ``bench/gpu_check.sh`` measures a GPU's batched throughput with it."""
    from studio.presets import factory_presets
    from studio.synth import RenderSettings
    from studio.ui import views

    if render_slots is None:
        import jax

        render_slots = 4 if jax.default_backend() != "cpu" else max(1, (os.cpu_count() or 2) // 2)
    views.limit_renders(render_slots)
    batcher = views.batch_renders(batch)
    views.start_warm_up()
    views.wait_for_warm_up(None)
    if batcher is not None:
        batcher.warm_up(RenderSettings())
        batcher.render(factory_presets()[0].theta, RenderSettings())
        batcher.wait_compiled(RenderSettings())
    presets = factory_presets()
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def user(i: int) -> None:
        client = Client(i, presets[i % len(presets)], np.random.default_rng(i), Path("."))
        while time.perf_counter() < deadline:
            sound = client.tweak()
            start = time.perf_counter()
            views.render_audio(sound)
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    calls = batcher.calls if batcher is not None else len(latencies)
    views.batch_renders(0)
    ms = np.asarray(latencies) * 1e3
    return dict(users=users, batch=batch, renders=len(latencies), rate=len(latencies) / elapsed,
                p50=float(np.percentile(ms, 50)), p95=float(np.percentile(ms, 95)), calls=calls)


def table(rows: list[dict]) -> str:
    lines = ["| renders | clients | releases | errors | p50 ms | p95 ms | max ms | renders/s "
             "| answers bit-identical to a single render |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        label = f"batched (≤ {r['batch']} a call)" if r["mode"] == "batched" else "one per call"
        lines.append(f"| {label} | {r['clients']} | {r['requests']} | {r['errors'] + r['truncated']} "
                     f"| {r['p50']:,.0f} | {r['p95']:,.0f} | {r['max']:,.0f} | {r['rate']:.1f} "
                     f"| {r['same']}/{r['compared']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="simulated visitors (20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per mode (60)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of uncounted load first (20)")
    parser.add_argument("--think", type=float, default=0.25, help="seconds between a client's releases (0.25)")
    parser.add_argument("--batch", type=int, default=32, help="largest batch in the batched mode (32)")
    parser.add_argument("--modes", default="unbatched,batched", help="which modes, in order")
    parser.add_argument("--verify", type=int, default=3, help="answers per client compared with a single render")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the servers' logs)")
    parser.add_argument("--output", type=Path, default=None, help="also write the table (Markdown) here")
    parser.add_argument("--in-process", action="store_true",
                        help="no server: the clients are threads of this process calling the render path itself")
    args = parser.parse_args(argv)

    if args.in_process:
        from studio.synth.cpu import tune_cpu

        tune_cpu()
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            r = in_process(args.clients, args.seconds, args.batch if mode == "batched" else 0)
            print(f"{mode}: {r['renders']} renders by {r['users']} users in {args.seconds:g} s: {r['rate']:.1f}/s, "
                  f"p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, {r['calls']} synth calls", flush=True)
        return 0

    import jax

    work = Path(tempfile.mkdtemp(prefix="synth-multi-user-"))
    header = (f"Multi-user renders — {cpu_name()}; server JAX backend as this process's: {jax.default_backend()}; "
              f"{args.clients} clients, {args.seconds:g} s per mode after {args.warmup:g} s of warm-up, think time "
              f"{args.think:g} s")
    print(f"# {header}", flush=True)
    rows = []
    try:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            row = one_mode(mode, args.batch, args, work)
            row["clients"] = args.clients
            rows.append(row)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = table(rows)
    print(f"\n{text}")
    for r in rows:
        for message, n in r["messages"]:
            print(f"  {r['mode']}: {n} × {message}")
        if r["tracebacks"]:
            print(f"  {r['mode']}: {r['tracebacks']} tracebacks in the server's log")
    if args.output:
        args.output.write_text(f"{header}\n\n{text}\n")
    bad = sum(r["errors"] + r["truncated"] + (r["compared"] - r["same"]) for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
