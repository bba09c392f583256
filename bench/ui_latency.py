"""How fast the studio answers a knob, and how fast it starts.

1. Server-side latency of a slider release, warm: from the event reaching Gradio's ``process_api`` to the audio
   (WAV in the cache) and the spectrogram and waveform (PNG) being ready to send, broken down into render,
   pictures and Gradio's own work. Median and 90th percentile over ``--repeats`` releases, each a real change
   (so no cache answers). Target ≤ 50 ms. For reference, the HTTP round trip of ``/render_preset`` through
   ``gradio_client`` (render + WAV, no pictures) from this machine.
2. In the browser (Chromium via Playwright, the studio served on 127.0.0.1): from the mouse release on a knob's
   slider to the new audio loaded in the page (its WAV fetched, or its inline data arrived), median and p90 over
   ``--repeats`` drags. Target ≤ 100 ms. Skipped, saying why, where no Chromium or Playwright is installed.
3. Start-up: from ``python app.py`` to the page being served (target ≤ 10 s), and to the first render answered.

Run: ``PYTHONPATH=. python bench/ui_latency.py [--repeats 40] [--no-startup] [--no-browser]``.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import CHROMIUM, REPO, cpu_name, median_p90, missing_browser, serve_warm_studio  # noqa: E402

sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_RELEASE_MS = 50.0
TARGET_START_S = 10.0
TARGET_BROWSER_MS = 100.0
KNOBS = ("keyboard.midi_f0", "mixer.vco_2", "adsr_1.decay")  # pitch, level, envelope: different work per render


def stats(seconds: list[float]) -> tuple[float, float]:
    """(median, 90th percentile) in milliseconds."""
    return median_p90(np.asarray(seconds) * 1e3)


def release_values(repeats: int) -> list[tuple[str, float]]:
    """Knob moves that always change the sound: alternate knobs, walk each one's value."""
    from studio.synth import PARAM_INDEX, PARAMS

    moves = []
    for i in range(repeats):
        key = KNOBS[i % len(KNOBS)]
        spec = PARAMS[PARAM_INDEX[key]]
        fraction = 0.3 + 0.4 * ((i // len(KNOBS)) % 20) / 19
        moves.append((key, round(spec.lo + fraction * (spec.hi - spec.lo), 3)))
    return moves


def time_release(repeats: int, warmup: int = 5) -> dict[str, list[float]]:
    """Per-release timings (seconds) of each stage, measured inside one process on the app's real event."""
    import jax
    from gradio.state_holder import SessionState

    from studio import plots
    from studio.synth import PARAM_INDEX, render
    from studio.ui import state as st
    from studio.ui.app import build_app, initial_sound, make_config
    from studio.ui.views import start_warm_up, wait_for_warm_up

    start_warm_up()
    wait_for_warm_up()
    demo = build_app(make_config(tempfile.mkdtemp(prefix="ui-latency-library-"), public=False))
    events = {f.fn.__name__: f for f in demo.fns.values() if getattr(f.fn, "__name__", "").startswith("set_")}
    session = SessionState(demo)
    loop = asyncio.new_event_loop()
    out: dict[str, list[float]] = {"render": [], "pictures": [], "event": []}
    moves = release_values(repeats + warmup)
    for n, (key, value) in enumerate(moves):
        start = time.perf_counter()
        result = loop.run_until_complete(
            demo.process_api(block_fn=events[f"set_{key}"], inputs=[value, None], state=session))
        elapsed = time.perf_counter() - start
        assert result["data"][1] is not None and result["data"][2] is not None, "the release returned no sound"
        if n >= warmup:
            out["event"].append(elapsed)
    loop.close()
    # The event's two big inner steps, timed alone on the same sequence of sounds.
    sound = initial_sound()
    for key, value in moves[warmup:]:
        theta = st.with_human_value(sound.theta, PARAM_INDEX[key], value)
        start = time.perf_counter()
        audio = np.asarray(jax.block_until_ready(render(theta, sound.settings)))
        mid = time.perf_counter()
        plots.spectrogram_image(audio, sound.settings.sample_rate)
        plots.waveform_image(audio, sound.settings.sample_rate)
        out["render"].append(mid - start)
        out["pictures"].append(time.perf_counter() - mid)
        sound = st.with_theta(sound, theta)
    return out


def time_http_render(repeats: int) -> list[float]:
    """Round trips of ``/render_preset`` through ``gradio_client`` against the app served on 127.0.0.1."""
    from gradio_client import Client

    from studio.presets import factory_presets
    from studio.ui.app import make_config, serve_in_background

    demo = serve_in_background(make_config(tempfile.mkdtemp(prefix="ui-latency-library-"), public=False))
    try:
        client = Client(demo.local_url, verbose=False)
        names = [p.name for p in factory_presets()]
        for name in names[:3]:
            client.predict(name, api_name="/render_preset")
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            client.predict(names[i % len(names)], api_name="/render_preset")
            times.append(time.perf_counter() - start)
        return times
    finally:
        demo.close()


# In the page: remember when the mouse button went up, and when player A's new audio finished loading (a URL's
# fetch completed, per the Resource Timing API, or an inline data: URL arrived). The resource-timing buffer is
# emptied at each release: once it is full (250 entries; the page's own scripts take most) the browser records no
# more entries, and every later drag looked as if it brought no file (17 of 30 in a run).
WATCH_AUDIO_JS = """() => {
  window.__release = null; window.__loaded = null;
  addEventListener('pointerup', () => { performance.clearResourceTimings(); window.__release = performance.now();
                                        window.__loaded = null; }, true);
  const link = () => document.querySelector('#audio-a a[data-testid=download-link]');
  let last = link() && link().href;
  const check = () => {
    const a = link();
    if (!a || a.href === last || window.__release === null) return;
    const href = a.href;
    if (href.startsWith('data:') || href.startsWith('blob:')) {
      last = href; window.__loaded = performance.now(); return;
    }
    const entry = performance.getEntriesByName(href).find(e => e.responseEnd > window.__release);
    if (entry) { last = href; window.__loaded = entry.responseEnd; }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, attributes: true, childList: true,
                                                     attributeFilter: ['href']});
  new PerformanceObserver(check).observe({type: 'resource', buffered: false});
}"""


def time_browser_release(repeats: int, warmup: int = 3) -> list[float] | str:
    """Seconds from the mouse release on a knob to the new audio loaded in Chromium, per drag; or why not run."""
    if (why := missing_browser()) is not None:
        return why
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    demo = serve_warm_studio("ui-latency-library-")
    times, missed = [], 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(demo.local_url)
            page.locator("#status").get_by_text("undo 0").wait_for(timeout=60_000)
            page.evaluate(WATCH_AUDIO_JS)
            for n in range(repeats + warmup):
                key = KNOBS[n % len(KNOBS)]
                track = page.locator(f"#knob-{key.replace('.', '-')} input[type=range]")
                track.scroll_into_view_if_needed()
                box = track.bounding_box()
                y = box["y"] + box["height"] / 2
                # every drag lands on a value not used before, so every release makes a sound not heard before:
                # a repeated sound has a repeated (content-named) URL, which the browser serves from its cache
                step = 0.004 * n
                start, end = (0.3, 0.62 + step) if (n // len(KNOBS)) % 2 == 0 else (0.7, 0.35 + step)
                page.mouse.move(box["x"] + box["width"] * start, y)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * end, y, steps=4)
                page.mouse.up()
                try:
                    page.wait_for_function("() => window.__loaded !== null", timeout=5_000)
                except PlaywrightTimeout:  # no new audio file fetched (a sound the browser already holds)
                    missed += n >= warmup
                    continue
                if n >= warmup:
                    times.append(page.evaluate("() => (window.__loaded - window.__release) / 1000"))
                page.wait_for_timeout(150)  # let the pictures land: the next drag starts from a quiet page
            browser.close()
    finally:
        demo.close()
    if missed:
        print(f"({missed} of {repeats} drags brought no new audio file within 5 s and are left out)")
    return times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_startup() -> tuple[float, float]:
    """Seconds from spawning ``python app.py`` to the page answering, and to the first render answered."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(prefix="ui-latency-library-") as library:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port), "--library", library,
                                 "--private"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            serving = None
            while serving is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"app.py exited early: {proc.stderr.read().decode()[-2000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            serving = time.perf_counter() - start
                except OSError:
                    time.sleep(0.05)
            from gradio_client import Client

            Client(url, verbose=False).predict("bass", api_name="/render_preset")
            first_render = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return serving, first_render


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurement (~15 s)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")
    parser.add_argument("--browser-only", action="store_true", help="only the Chromium measurement")
    args = parser.parse_args(argv)

    import gradio
    import jax

    from studio.synth.cpu import tune_cpu

    tune_cpu()  # as app.py's main does
    print(f"device: {cpu_name()} · JAX {jax.__version__} backend {jax.default_backend()} · "
          f"Gradio {gradio.__version__} · 48 kHz, 2 s sounds · {args.repeats} releases, warm\n")

    if not args.no_browser:
        browser = time_browser_release(args.repeats)
        print("| what (in Chromium, warm) | median ms | p90 ms | target ms | median / target |")
        print("|---|---:|---:|---:|---:|")
        if isinstance(browser, str):
            print(f"| knob release → new audio loaded in the page | skipped: {browser} | | | |")
        else:
            median, p90 = stats(browser)
            print(f"| **knob release → new audio loaded in the page** ({len(browser)} drags) | {median:.1f} | "
                  f"{p90:.1f} | {TARGET_BROWSER_MS:.0f} | {median / TARGET_BROWSER_MS:.2f} |")
        print()
        if args.browser_only:
            return

    stages = time_release(args.repeats)
    http = time_http_render(max(args.repeats // 2, 5))
    print("| what (server side, warm) | median ms | p90 ms | target ms | median / target |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        ("render θ → audio (synth, B = 1)", stages["render"], None),
        ("pictures: spectrogram + waveform", stages["pictures"], None),
        ("**slider release → audio + spectrogram + waveform ready** (Gradio event)", stages["event"],
         TARGET_RELEASE_MS),
        ("reference: /render_preset HTTP round trip via gradio_client (no pictures)", http, None),
    ]
    for name, seconds, target in rows:
        median, p90 = stats(seconds)
        extra = f"{target:.0f} | {median / target:.2f}" if target else "– | –"
        print(f"| {name} | {median:.1f} | {p90:.1f} | {extra} |")

    if not args.no_startup:
        serving, first = time_startup()
        print("\n| start-up | seconds | target s | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| `python app.py` → page served | {serving:.1f} | {TARGET_START_S:.0f} | "
              f"{serving / TARGET_START_S:.2f} |")
        print(f"| `python app.py` → first render answered | {first:.1f} | – | – |")


if __name__ == "__main__":
    main()
