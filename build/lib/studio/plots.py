"""Pictures of sounds for the studio: spectrogram and waveform images.

The synth panel redraws these on every slider release, inside a latency budget of ~50 ms for render + pictures,
so they are drawn straight into RGB arrays with numpy (a few milliseconds) instead of matplotlib figures
(~100 ms each to lay out and rasterize). Colours come from a matplotlib colormap table, read once.
Images are ``uint8 [H, W, 3]``; time runs left to right over the whole sound.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from PIL import Image, ImageDraw

BACKGROUND = (17, 19, 26)
WAVE_COLOUR = (120, 200, 255)
RMS_COLOUR = (60, 110, 160)
GRID_COLOUR = (90, 96, 110)
LABEL_COLOUR = (200, 204, 214)
DB_RANGE = 80.0  # dB shown below full scale; quieter is black
F_MIN = 30.0  # Hz, bottom row of the log-frequency spectrogram


@lru_cache(maxsize=4)
def _colour_table(name: str = "magma") -> np.ndarray:
    """``[256, 3]`` uint8 RGB lookup table of a matplotlib colormap."""
    from matplotlib import colormaps  # only the colormap registry: no pyplot, no figure machinery

    return (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


@lru_cache(maxsize=8)
def _log_frequency_rows(sample_rate: int, n_fft: int, height: int):
    """How each image row (bottom = row 0 here; flipped later) gathers FFT bins on a log-frequency axis.

    Returns ``(starts, has_bins, lo, hi, w)``: a row whose band holds FFT bins shows their maximum (so a tone
    between two high rows is not missed); a narrow low row holding no bin interpolates between the two bins
    around its centre frequency (``lo``, ``hi``, weight ``w``).
    """
    half = n_fft // 2
    edges = np.geomspace(F_MIN, sample_rate / 2.0, height + 1) / (sample_rate / 2.0) * half  # in bins, ascending
    starts = np.clip(np.ceil(edges[:-1]).astype(np.int64), 0, half)
    ends = np.clip(np.ceil(edges[1:]).astype(np.int64), 0, half + 1)
    has_bins = ends > starts
    centre = np.sqrt(edges[:-1] * edges[1:])
    lo = np.clip(np.floor(centre).astype(np.int64), 0, half - 1)
    return np.minimum(starts, half), has_bins, lo, lo + 1, (centre - lo).astype(np.float32)


def _frames(audio: np.ndarray, n_fft: int, width: int) -> np.ndarray:
    """``width`` windows of ``n_fft`` samples ``[width, n_fft]``, centred at evenly spaced times (zero-padded ends)."""
    padded = np.pad(audio, (n_fft // 2, n_fft // 2))
    centres = np.linspace(0, len(audio) - 1, width).astype(np.int64)
    index = centres[:, None] + np.arange(n_fft)[None, :]
    return padded[index]


def spectrogram_db(audio: np.ndarray, sample_rate: int, width: int = 640, height: int = 200,
                   n_fft: int = 2048) -> np.ndarray:
    """Log-frequency magnitude spectrogram in dB relative to a full-scale sine: ``[height, width]`` float32.

    audio: ``[T]`` float in [−1, 1] at ``sample_rate`` Hz. Rows run from ``sample_rate/2`` (top) down to 30 Hz on a
    log axis, columns are ``width`` Hann-windowed frames spread over the sound. The reference is fixed (not the
    sound's own peak), so a quieter sound looks darker.
    """
    audio = np.asarray(audio, np.float32).reshape(-1)
    window = np.hanning(n_fft).astype(np.float32)
    # scipy's FFT keeps float32 (numpy's works in float64): 4× faster here, precision is irrelevant for a picture.
    spectrum = np.abs(scipy.fft.rfft(_frames(audio, n_fft, width) * window, axis=-1))  # [W, n_fft/2 + 1]
    starts, has_bins, lo, hi, w = _log_frequency_rows(int(sample_rate), n_fft, height)
    band_max = np.maximum.reduceat(spectrum, starts, axis=1)  # [W, H]: max over each row's bins
    between = spectrum[:, lo] * (1.0 - w) + spectrum[:, hi] * w
    mag = np.where(has_bins, band_max, between)[:, ::-1]  # row 0 = the top of the image = the highest band
    full_scale = window.sum() / 2.0  # magnitude of a full-scale sine's peak bin
    return (20.0 * np.log10(np.maximum(mag.T / full_scale, 1e-10))).astype(np.float32)


def _label(image: np.ndarray, items: list[tuple[int, int, str]]) -> np.ndarray:
    """Write small text labels at ``(x, y, text)`` pixel positions (PIL's built-in bitmap font)."""
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    for x, y, text in items:
        draw.text((x, y), text, fill=LABEL_COLOUR)
    return np.asarray(pil)


def _time_ticks(width: int, duration: float) -> list[tuple[int, float]]:
    step = 0.5 if duration <= 4.0 else 1.0 if duration <= 10.0 else 5.0
    return [(int(round(t / duration * (width - 1))), t) for t in np.arange(step, duration, step)]


def spectrogram_image(audio: np.ndarray, sample_rate: int, width: int = 640, height: int = 200) -> np.ndarray:
    """Spectrogram picture ``uint8 [height, width, 3]``: magma colours over the top 80 dB, log frequency axis
    labelled at 100 Hz, 1 kHz and 10 kHz, time ticks every 0.5 s."""
    db = spectrogram_db(audio, sample_rate, width, height)
    level = np.clip((db + DB_RANGE) / DB_RANGE, 0.0, 1.0)
    image = _colour_table()[(level * 255.0).astype(np.uint8)]
    top = sample_rate / 2.0
    labels = []
    for f, text in ((100.0, "100 Hz"), (1000.0, "1 kHz"), (10000.0, "10 kHz")):
        if F_MIN < f < top:
            row = int(round(np.log(top / f) / np.log(top / F_MIN) * (height - 1)))
            image[row, :: 4] = GRID_COLOUR  # dotted line: visible on any colour, hides little
            labels.append((width - 46, max(row - 11, 0), text))  # right edge: Gradio's label covers the left
    duration = len(np.asarray(audio).reshape(-1)) / sample_rate
    for x, t in _time_ticks(width, duration):
        image[height - 5:, x] = GRID_COLOUR
        labels.append((min(x + 2, width - 30), height - 12, f"{t:g} s"))
    return _label(image, labels)


def waveform_image(audio: np.ndarray, sample_rate: int, width: int = 640, height: int = 110) -> np.ndarray:
    """Waveform picture ``uint8 [height, width, 3]``: per pixel column the min…max range (light) and the RMS
    (dark), on a fixed ±1 scale so loudness differences stay visible."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    n = len(audio) // width * width
    if n == 0:  # shorter than one sample per column: stretch instead of bin
        cols = np.interp(np.linspace(0, len(audio) - 1, width), np.arange(len(audio)), audio)[:, None]
    else:
        cols = audio[:n].reshape(width, -1)
    lo, hi = cols.min(axis=1), cols.max(axis=1)
    rms = np.sqrt(np.mean(cols.astype(np.float64) ** 2, axis=1))
    y = np.linspace(1.0, -1.0, height)[:, None]  # row value, top = +1
    half_pixel = 1.0 / (height - 1)  # so quiet columns still draw one pixel
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    image[height // 2, :] = GRID_COLOUR
    image[(y >= lo[None] - half_pixel) & (y <= hi[None] + half_pixel)] = WAVE_COLOUR
    image[np.abs(y) <= rms[None]] = RMS_COLOUR
    duration = len(audio) / sample_rate
    labels = []
    for x, t in _time_ticks(width, duration):
        image[height - 5:, x] = GRID_COLOUR
        labels.append((min(x + 2, width - 30), height - 12, f"{t:g} s"))
    return _label(image, labels)


CURVE_COLOURS = ((255, 170, 60), (120, 200, 255), (150, 230, 130), (235, 120, 200), (200, 200, 120),
                 (170, 150, 255))  # one per restart, cycling


def score_curve_image(curves, generations: int, width: int = 640, height: int = 160, lo: float | None = None,
                      hi: float | None = None) -> np.ndarray:
    """A search's best score per generation, one line per restart: ``uint8 [height, width, 3]``.

    curves: a sequence of per-restart sequences of best-so-far scores (generation 1, 2, …; NaN values are
    skipped). generations: the x axis runs from generation 0 to this many. lo/hi: the y range (default: the
    data's, padded, always including 0 and 1 when the scores lie inside them — the descriptor scorer's range).
    Horizontal grid lines mark lo, the middle and hi, labelled with their values at the right edge; the top rows
    stay empty (Gradio's label covers an image's top-left corner).
    """
    curves = [np.asarray(c, np.float64).reshape(-1) for c in curves]
    finite = np.concatenate([c[np.isfinite(c)] for c in curves]) if curves else np.zeros(0)
    if lo is None or hi is None:
        d_lo, d_hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if 0.0 <= d_lo and d_hi <= 1.0:
            d_lo, d_hi = 0.0, 1.0
        pad = max(0.05 * (d_hi - d_lo), 1e-3)
        lo = d_lo - pad if lo is None else lo
        hi = d_hi + pad if hi is None else hi
    if not hi > lo:
        hi = lo + 1.0
    left, right, top, bottom = 8, width - 40, 30, height - 16  # plot area in pixels
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND

    def y_of(v):
        return np.round(bottom - (np.asarray(v, np.float64) - lo) / (hi - lo) * (bottom - top)).astype(np.int64)

    labels = []
    for v in (lo, (lo + hi) / 2.0, hi):
        row = int(np.clip(y_of(v), top, bottom))
        image[row, left:right:3] = GRID_COLOUR
        labels.append((right + 4, max(row - 5, 0), f"{v:.2f}"))
    image[top:bottom + 1, left] = GRID_COLOUR
    total = max(int(generations), 1)
    for k, curve in enumerate(curves):
        if curve.size == 0:
            continue
        colour = CURVE_COLOURS[k % len(CURVE_COLOURS)]
        ok = np.isfinite(curve)
        xs = np.round(left + (np.flatnonzero(ok) + 1) / total * (right - left)).astype(np.int64)
        points = [(int(x), int(y)) for x, y in zip(xs, y_of(np.clip(curve[ok], lo, hi)))]
        if len(points) == 1:
            x, y = points[0]
            image[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = colour
        elif points:
            pil = Image.fromarray(image)
            ImageDraw.Draw(pil).line(points, fill=colour, width=2)
            image = np.asarray(pil).copy()
    labels.append((left + 4, bottom + 3, "generation 0"))
    labels.append((right - 6 * len(str(total)) - 2, bottom + 3, f"{total}"))
    return _label(image, labels)


# ---------------------------------------------------------------------------------------------------------------
# Map of sounds (SVG, so each point is an element a click can name)

MAP_SIZE = (640, 420)
MAP_NAMED_POINTS = 40  # SVG user units; the picture scales to its container's width
MAP_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
               "#9c755f", "#bab0ac", "#86bcb6", "#d37295")  # Tableau 10 and two more: distinct on dark and light


def map_svg(coords: np.ndarray, keys, labels, groups, selected: str | None = None, names=None) -> str:
    """An SVG scatter of N sounds: coords ``[N, 2]`` in [−1, 1] (y up), one circle per sound carrying
    ``data-key`` (what a click reports) and a ``<title>`` (the hover label), filled by group, with a legend.

    keys, labels, groups: N strings each; ``selected``: a key drawn with a ring; names: N short names written
    beside the points when there are at most :data:`MAP_NAMED_POINTS`. Text is escaped.
    """
    names = list(names) if names is not None else list(labels)
    from html import escape

    coords = np.asarray(coords, np.float64).reshape(-1, 2)
    width, height = MAP_SIZE
    legend_groups = list(dict.fromkeys(groups))
    colour = {g: MAP_PALETTE[i % len(MAP_PALETTE)] for i, g in enumerate(legend_groups)}
    margin, legend_w = 24.0, 150.0
    plot_w, plot_h = width - legend_w - 2 * margin, height - 2 * margin
    half = min(plot_w, plot_h) / 2.0  # equal scale on both axes: distances on the map mean the same both ways
    cx, cy = margin + plot_w / 2.0, margin + plot_h / 2.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="sound-map" '
             f'role="img" aria-label="map of {len(keys)} sounds">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="rgb{BACKGROUND}" rx="6"/>']
    order = sorted(range(len(keys)), key=lambda i: keys[i] == selected)  # the selected point on top
    for i in order:
        x, y = cx + coords[i, 0] * half, cy - coords[i, 1] * half
        ring = ' stroke="#ffffff" stroke-width="3"' if keys[i] == selected else ' stroke="#11131a" stroke-width="1"'
        parts.append(f'<circle class="map-point" cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{colour[groups[i]]}"{ring} '
                     f'data-key="{escape(keys[i])}" data-label="{escape(labels[i])}">'
                     f'<title>{escape(labels[i])}</title></circle>')
        if len(keys) <= MAP_NAMED_POINTS:  # few points: name them all (a click target, not only a hover)
            name = names[i] if len(names[i]) <= 16 else names[i][:15] + "…"
            parts.append(f'<text class="map-name" x="{x + 10:.1f}" y="{y + 4:.1f}" fill="rgb{LABEL_COLOUR}" '
                         f'font-size="11" pointer-events="none">{escape(name)}</text>')
    for j, g in enumerate(legend_groups[:16]):
        y = margin + 8 + j * 18
        parts.append(f'<circle cx="{width - legend_w + 8}" cy="{y}" r="5" fill="{colour[g]}"/>'
                     f'<text x="{width - legend_w + 18}" y="{y + 4}" fill="rgb{LABEL_COLOUR}" font-size="12">'
                     f'{escape(g[:22])}</text>')
    if len(legend_groups) > 16:
        parts.append(f'<text x="{width - legend_w + 4}" y="{margin + 8 + 16 * 18 + 4}" fill="rgb{LABEL_COLOUR}" '
                     f'font-size="12">+{len(legend_groups) - 16} more</text>')
    parts.append("</svg>")
    return "".join(parts)
