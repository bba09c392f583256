"""How fast the keyboard plays, and how fast it is re-armed after the sound changes.

1. Server: the keyboard's payload for a sound (25 keys rendered in one batch, cut after the last audible sample,
   packed as one base64 int16 block): milliseconds and size, for a short (pluck), a middle (bass) and a sustained
   (pad) preset, each run a new sound (a knob nudged) so no cache answers.
2. In Chromium (Playwright; the studio served on 127.0.0.1), once the keyboard's samples are loaded:
   - **key press → sound**: from the input event (its ``timeStamp``, the Web performance clock) to the buffer
     source started, and to when its first sample reaches the output by Web Audio's own clock
     (``AudioContext.getOutputTimestamp()`` mapped to the performance clock, plus ``outputLatency``), for computer
     keys and mouse clicks on the piano. Target ≤ 30 ms.
   - **sound change → keyboard re-armed**: from the mouse release on a knob (``pointerup``, performance clock) to
     the new payload decoded in the page (``synthKeyboard.armedAt``); and from the Ctrl-Z of an undo (a queued
     event) to the same. Target ≤ 300 ms.
Median and 90th percentile over ``--repeats``.

Run: ``PYTHONPATH=. python bench/keyboard_latency.py [--repeats 30] [--no-browser]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import CHROMIUM, REPO, cpu_name, median_p90, missing_browser, serve_warm_studio  # noqa: E402

sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_PLAY_MS = 30.0
TARGET_REARM_MS = 300.0
KNOBS = ("mixer.vco_1", "adsr_1.decay", "vco_2.shape")  # knobs that always change the sound of the init patch

# Knob releases, on the performance clock, for the re-arm measurement.
WATCH_RELEASE_JS = """() => { window.__release = null;
  addEventListener('pointerup', e => {
    if (e.target.closest && e.target.closest('.knob')) window.__release = e.timeStamp; }, true); }"""


def time_server(repeats: int) -> list[tuple[str, float, float, float, int]]:
    """(preset, median ms, p90 ms, payload MB, samples per key) of the keyboard payload, a new sound each run."""
    from studio.presets import factory_preset
    from studio.ui import state as st
    from studio.ui.keyboard_panel import render_payload
    from studio.ui.views import start_warm_up, wait_for_warm_up

    start_warm_up()
    wait_for_warm_up()
    rows = []
    for name in ("pluck", "bass", "pad"):
        preset = factory_preset(name)
        render_payload(preset, 48)  # compile this settings' batch shape
        times, payload = [], None
        for n in range(repeats):
            theta = st.with_human_value(preset.theta, 0, 48 + (n % 24))  # a new sound every run: no cache
            sound = st.with_theta(preset, theta)
            start = time.perf_counter()
            payload = render_payload(sound, 48)
            times.append((time.perf_counter() - start) * 1e3)
        median, p90 = median_p90(times)
        rows.append((name, median, p90, 2 * payload["count"] * payload["length"] / 1e6, payload["length"]))
    return rows


def time_browser(repeats: int) -> dict[str, list[float]] | str:
    """Per-measurement milliseconds in Chromium: key/click → source started and → output; release/undo → armed."""
    if (why := missing_browser()) is not None:
        return why
    from playwright.sync_api import sync_playwright

    demo = serve_warm_studio("keyboard-latency-library-")
    out: dict[str, list[float]] = {k: [] for k in ("key → start", "key → output", "click → start", "click → output",
                                                   "knob release → armed", "release → header received",
                                                   "header → armed (file fetch + decode)", "decode",
                                                   "undo (Ctrl-Z) → armed")}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(demo.local_url)
            page.wait_for_function("() => window.synthKeyboard && window.synthKeyboard.loads > 0", timeout=90_000)
            page.evaluate(WATCH_RELEASE_JS)
            kb = "window.synthKeyboard"
            letters = "awsedftgyhujk"
            for n in range(repeats + 3):  # computer keys (the first few warm the context up)
                page.keyboard.down(letters[n % len(letters)])
                page.wait_for_timeout(30)
                page.keyboard.up(letters[n % len(letters)])
                s = page.evaluate(f"() => {kb}.lastStarted")
                if n >= 3:
                    out["key → start"].append(s["startTime"] - s["eventTime"])
                    if s["outputTime"]:
                        out["key → output"].append(s["outputTime"] - s["eventTime"])
            for n in range(repeats):
                key = page.locator(f'#kb-root .kb-key[data-midi="{48 + n % 25}"]')
                key.click()
                s = page.evaluate(f"() => {kb}.lastStarted")
                out["click → start"].append(s["startTime"] - s["eventTime"])
                if s["outputTime"]:
                    out["click → output"].append(s["outputTime"] - s["eventTime"])
            for n in range(repeats):
                version = page.evaluate(f"() => {kb}.version")
                knob = KNOBS[n % len(KNOBS)]
                track = page.locator(f"#knob-{knob.replace('.', '-')} input[type=range]")
                track.scroll_into_view_if_needed()
                box = track.bounding_box()
                y = box["y"] + box["height"] / 2
                step = 0.005 * n  # every release a sound not made before
                start, end = (0.3, 0.6 + step) if (n // len(KNOBS)) % 2 == 0 else (0.7, 0.4 - step)
                page.mouse.move(box["x"] + box["width"] * start, y)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * end, y, steps=4)
                page.mouse.up()
                page.wait_for_function(f"v => {kb}.version !== v && {kb}.armedAt > window.__release", arg=version,
                                       timeout=10_000)
                r = page.evaluate(f"() => [{kb}.armedAt - window.__release, {kb}.receivedAt - window.__release,"
                                  f" {kb}.armedAt - {kb}.receivedAt, {kb}.decodeMs]")
                out["knob release → armed"].append(r[0])
                out["release → header received"].append(r[1])
                out["header → armed (file fetch + decode)"].append(r[2])
                out["decode"].append(r[3])
                page.wait_for_timeout(200)  # the pictures land; the next drag starts from a quiet page
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            for _ in range(min(repeats, 20)):  # undo walks back through the drags: a queued event, cached renders
                version = page.evaluate(f"() => {kb}.version")
                page.evaluate("() => { window.__undo = null; addEventListener('keydown', e => "
                              "{ window.__undo = e.timeStamp; }, {capture: true, once: true}); }")
                page.keyboard.press("Control+z")
                page.wait_for_function(f"v => {kb}.version !== v", arg=version, timeout=10_000)
                out["undo (Ctrl-Z) → armed"].append(page.evaluate(f"() => {kb}.armedAt - window.__undo"))
                page.wait_for_timeout(200)
            browser.close()
    finally:
        demo.close()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurements")
    args = parser.parse_args(argv)
    from studio.synth.cpu import tune_cpu

    tune_cpu()
    import jax

    print(f"*Keyboard latency — {cpu_name()} (load average {os.getloadavg()[0]:.1f} at the start); "
          f"jax {jax.__version__} on {jax.default_backend()}; {args.repeats} repeats*\n")
    print("| keyboard payload (server: 25 keys, one batched render, packed) | median | p90 | payload | samples/key |")
    print("|---|---:|---:|---:|---:|")
    for name, median, p90, mb, length in time_server(args.repeats):
        print(f"| {name} | {median:.1f} ms | {p90:.1f} ms | {mb:.2f} MB | {length:,} |")
    if args.no_browser:
        return
    browser = time_browser(args.repeats)
    print()
    if isinstance(browser, str):
        print(f"Chromium measurements skipped: {browser}")
        return
    targets = {"key → output": TARGET_PLAY_MS, "click → output": TARGET_PLAY_MS,
               "knob release → armed": TARGET_REARM_MS, "undo (Ctrl-Z) → armed": TARGET_REARM_MS}
    print("| in Chromium | n | median | p90 | target |")
    print("|---|---:|---:|---:|---:|")
    for what, values in browser.items():
        if not values:
            print(f"| {what} | 0 | – | – | |")
            continue
        median, p90 = median_p90(values)
        target = f"≤ {targets[what]:.0f} ms" if what in targets else ""
        print(f"| {what} | {len(values)} | {median:.1f} ms | {p90:.1f} ms | {target} |")


if __name__ == "__main__":
    main()
