"""Edits in words: "brighter", "an octave lower", "shorter and more wobble", "slightly darker", "more like a bell".

An edit is read (:func:`read_edit`) into parts, each one of:

- **relative**: a quality moved from the sound's own measured value — "brighter" is brightness × 1.5, "shorter"
  length ÷ 1.5, "higher" pitch + 3 semitones, "an octave lower" pitch − 12, "less noise" noisiness × 0.4, "more
  wobble" a vibrato twice as deep (at least +0.6 st). "slightly" (a bit, a little, a touch) halves the step,
  "much" (a lot, way, far, very) doubles it; "not brighter" keeps brightness from rising.
- **absolute**: any word of the descriptor scorer's lexicon (:mod:`studio.scoring.descriptors`: "metallic",
  "short", "bell", …), with its targets as in a prompt; "more like a bell" or "bell-like" asks for a bell's.

Words that are neither are refused before anything moves (:class:`EditError`: which words, what is known).

Applying an edit (:func:`apply_edit`) is the macro search of :mod:`.macros` with the parts as targets, every
quality the words do not name kept where it is, and a closeness term: the perceptual distance
(:mod:`studio.audio.embedding`) from the start may not exceed that of a typical δ = 0.1 doppelgänger of this sound
(:mod:`.doppelgangers`, the median of eight) — δ = 0.25 when the words ask for more ("much", "a lot", a new kind
of sound). With a CLAP scorer (real weights), the candidates are also judged by CLAP on the edited prompt (the
sound's prompt, tags or name plus the edit), with the same closeness term; without weights that path is not taken.
The result says what was understood and, per quality, before → after.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from studio.errors import StudioError
from studio.synth import RenderSettings

from . import macros as mc


class EditError(StudioError):
    """An edit that cannot be applied (words not known, nothing to edit); nothing was changed. Field ``edit``."""

    def __init__(self, message: str, field: str | None = "edit"):
        super().__init__(message, field)


MAX_EDIT_CHARS = 300
STEP_BAND = (0.7, 1.4)  # a step is met between 0.7× and 1.4× its size (a little short, or overshooting)
CLOSE_DELTA, FAR_DELTA = 0.1, 0.25  # the doppelgänger δ whose typical distance bounds an edit
CLOSE_WEIGHT = 20.0  # cost per budget beyond the budget: nearly a wall
CLAP_WEIGHT = 10.0
ABSENT = {"noisiness": 0.005, "vibrato_depth": 0.1, "tremolo_depth": 0.5}  # below these there is nothing to take away


# ----------------------------------------------------------------------------------------------
# The vocabulary of relative edits
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """A relative change of one quality: × ``factor`` (log qualities) or + ``add`` (linear), at least ``least``."""

    quality: str
    factor: float = 1.0
    add: float = 0.0
    least: float = 0.0  # the smallest change in natural units (a vibrato from nothing needs an absolute step)
    what: str = ""  # how people read it: "× 1.5", "+3 st"


def _mul(q: str, f: float) -> Step:
    return Step(q, factor=f)


def _add(q: str, d: float) -> Step:
    return Step(q, add=d)


UP, DOWN = 1.5, 1 / 1.5
RELATIVE: dict[str, tuple[Step, ...]] = {}


def _words(phrases: str, *steps: Step) -> None:
    for phrase in phrases.split("|"):
        RELATIVE[phrase.strip()] = steps


_words("brighter|more bright|more brightness|more treble|more highs|more top end|shinier|crisper|more sizzle",
       _mul("brightness", UP))
_words("darker|duller|less bright|less brightness|more muffled|less treble|less highs|mellower|muddier|rounder",
       _mul("brightness", DOWN))
_words("warmer", _mul("brightness", 1 / 1.3))
_words("higher|higher pitched|higher pitch|up|pitch up|raise the pitch|more high", _add("pitch", 3.0))
_words("lower|lower pitched|lower pitch|deeper|down|pitch down|lower the pitch", _add("pitch", -3.0))
_words("shorter|briefer|less long|more short|cut shorter", _mul("length", DOWN))
_words("longer|less short|more long|lengthen|last longer", _mul("length", UP))
_words("snappier|punchier|faster attack|sharper attack|quicker attack|harder attack|more attack|sharper|"
       "more percussive|more punch|tighter attack", _mul("attack", 0.5))
_words("slower attack|softer attack|gentler attack|smoother attack|more swell|swell more|slower fade in|"
       "less attack|less percussive|less punchy|gentler", _mul("attack", 2.0))
_words("longer decay|longer tail|longer release|more sustain|more ring|rings longer|ring longer|more decay|"
       "more reverb|more tail|ringier", _mul("decay", UP))
_words("shorter decay|shorter tail|shorter release|less sustain|less ring|faster decay|quicker decay|dies faster|"
       "less tail|tighter|drier", _mul("decay", DOWN))
_words("noisier|more noise|more noisy|more hiss|hissier|more air|airier|breathier|more breath|more breathy|"
       "grittier|dirtier", Step("noisiness", factor=2.5, least=0.01))
_words("less noise|less noisy|less hiss|cleaner|less air|less breathy|less gritty|less dirty|no noise",
       _mul("noisiness", 0.4))
_words("more wobble|wobblier|more vibrato|more wobbly|wobble more|more warble|more wavy|wavier|shakier",
       Step("vibrato_depth", factor=2.0, least=0.6))
_words("less wobble|less vibrato|steadier|less wobbly|more stable|less warble|less wavy|no vibrato|no wobble",
       _mul("vibrato_depth", 0.35))
_words("faster vibrato|faster wobble|quicker vibrato|quicker wobble", _mul("vibrato_rate", UP))
_words("slower vibrato|slower wobble", _mul("vibrato_rate", DOWN))
_words("more tremolo|more pulsing|more pulse|choppier|more throb|more throbbing|more flutter|more chop",
       Step("tremolo_depth", factor=2.0, least=5.0))
_words("less tremolo|less pulsing|less pulse|less choppy|less throb|less flutter|no tremolo",
       _mul("tremolo_depth", 0.35))
_words("faster tremolo|faster pulse|faster pulsing|quicker pulse", _mul("tremolo_rate", UP))
_words("slower tremolo|slower pulse|slower pulsing", _mul("tremolo_rate", DOWN))
_words("richer|fuller|fatter|thicker|more harmonics|more overtones|more rich|more full|buzzier|more buzz",
       _mul("richness", UP))
_words("thinner|simpler|fewer harmonics|fewer overtones|less rich|less full|less buzzy|hollower",
       _mul("richness", DOWN))
_words("purer|more pure", _mul("noisiness", 0.4), _mul("richness", 1 / 1.3))
_words("louder|more loud|more volume|boost", _add("loudness", 6.0))
_words("quieter|softer|less loud|less volume|more quiet", _add("loudness", -6.0))

INTERVALS = {"octave": 12.0, "octaves": 12.0, "fifth": 7.0, "fifths": 7.0, "fourth": 5.0, "fourths": 5.0,
             "third": 4.0, "thirds": 4.0, "semitone": 1.0, "semitones": 1.0, "st": 1.0, "half step": 1.0,
             "half steps": 1.0, "halfstep": 1.0, "whole step": 2.0, "whole steps": 2.0, "whole tone": 2.0,
             "tone": 2.0, "tones": 2.0, "step": 2.0, "steps": 2.0}
NUMBERS = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
           "seven": 7.0, "half": 0.5, "a half": 0.5}
SOFTER = ("slightly", "a bit", "a little", "a little bit", "a touch", "somewhat", "a tad", "a little more",
          "a bit more", "a tiny bit", "just a bit", "little", "bit", "touch", "tad", "mildly", "kinda")
STRONGER = ("much", "a lot", "way", "far", "very", "really", "lots", "significantly", "considerably", "extremely",
            "a lot more", "much more", "way more", "far more", "super", "loads")
NEGATIONS = ("not", "no", "never", "don't make it", "dont make it", "without making it", "without getting",
             "but not", "not any", "nothing")
FILLER = frozenset("""make it the sound a an and please bit more than be should so also just too this that its it's
                      with one little get getting now tone same keep while go even""".split())
LIKE = re.compile(r"^(?:more\s+)?(?:like|similar to)\s+(?:a|an|the)?\s*(.+)$|^(.+?)[\s-]like$|^(.+?)[\s-]ish$")


@dataclass(frozen=True)
class EditPart:
    """One understood piece of an edit."""

    text: str  # the words as typed
    kind: str  # "relative", "keep" (not …-er) or "absolute"
    steps: tuple[Step, ...] = ()  # relative / keep
    strength: float = 1.0  # 0.5 slightly, 2 much
    targets: tuple = ()  # absolute: descriptor Targets (or AnyOf) from the lexicon
    far: bool = False  # the words ask for more than a small step

    def describe(self) -> str:
        if self.kind == "absolute":
            from studio.scoring.descriptors import describe_target

            return f"{self.text} → " + ", ".join(describe_target(t) for t in self.targets)
        out = []
        for step in self.steps:
            label = mc.MACROS[step.quality].label if step.quality in mc.MACROS else step.quality
            if self.kind == "keep":
                out.append(f"{label} {'no higher' if step_sign(step) > 0 else 'no lower'}")
            elif step.factor != 1.0:
                out.append(f"{label} × {step.factor ** self.strength:.3g}")
            else:
                unit = " st" if step.quality == "pitch" else (" dB" if step.quality == "loudness" else "")
                out.append(f"{label} {step.add * self.strength:+.3g}{unit}")
        return f"{self.text} → " + ", ".join(out)


def step_sign(step: Step) -> int:
    return 1 if (step.factor > 1.0 or step.add > 0.0) else -1


@dataclass(frozen=True)
class EditReading:
    text: str
    parts: tuple[EditPart, ...]
    unknown: tuple[str, ...] = ()

    @property
    def far(self) -> bool:
        return any(p.far for p in self.parts)

    def explain(self) -> str:
        shown = [p.describe() for p in self.parts]
        if self.unknown:
            shown.append("not understood: " + ", ".join(f"'{w}'" for w in self.unknown))
        return "; ".join(shown) or "nothing understood"


def _clean(text: str) -> str:
    text = text.lower().replace("’", "'").replace("-", " ")
    return " ".join(re.findall(r"[a-z0-9'.%+]+", text))


def _split_clauses(text: str) -> list[str]:
    parts = re.split(r"[,;/]|\band\b|\bbut\b|\bthen\b|\bplus\b|\balso\b|\bwhile\b", text.lower())
    return [p.strip() for p in parts if p.strip()]


def _strength(words: list[str]) -> tuple[float, list[str], bool, bool]:
    """(strength, the words without modifiers, negated?, far?) of a clause's words."""
    text = " ".join(words)
    strength, negated = 1.0, False
    for phrase in sorted(NEGATIONS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", text):
            negated = True
            text = re.sub(rf"\b{re.escape(phrase)}\b", " ", text)
    for phrase in sorted(STRONGER, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", text):
            strength = 2.0
            text = re.sub(rf"\b{re.escape(phrase)}\b", " ", text)
            break
    for phrase in sorted(SOFTER, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", text):
            strength = 0.5
            text = re.sub(rf"\b{re.escape(phrase)}\b", " ", text)
            break
    return strength, text.split(), negated, strength > 1.0


def _interval(words: list[str]) -> tuple[float, list[str]] | None:
    """``an octave lower``, ``two semitones up``, ``+5 st``, ``up a fifth`` → (semitones, remaining words)."""
    text = " ".join(words)
    unit = "|".join(sorted((re.escape(k) for k in INTERVALS), key=len, reverse=True))
    number = r"(a half|a|an|one|two|three|four|five|six|seven|half|[+-]?\d+(?:\.\d+)?)"
    direction = r"(higher|lower|up|down|deeper)"
    for pattern, order in ((rf"\b{number}\s+({unit})\s+{direction}\b", "nud"),
                           (rf"\b{direction}\s+(?:by\s+)?{number}\s+({unit})\b", "dnu"),
                           (rf"(?:^|\s)([+-]\d+(?:\.\d+)?)\s*({unit})\b", "nu")):
        m = re.search(pattern, text)
        if not m:
            continue
        groups = dict(zip(order, m.groups()))
        raw = groups["n"]
        count = NUMBERS.get(raw, None) if raw in NUMBERS else float(raw)
        sign = -1.0 if groups.get("d") in ("lower", "down", "deeper") else 1.0
        semitones = sign * count * INTERVALS[groups["u"]]
        rest = (text[:m.start()] + " " + text[m.end():]).split()
        return semitones, rest
    return None


def _percent(words: list[str]) -> tuple[float, list[str]] | None:
    """``50% brighter``, ``twice as long``, ``half as long`` → (factor, words without the amount)."""
    text = " ".join(words)
    m = re.search(r"\b(\d+(?:\.\d+)?)\s*%\s*", text)
    if m:
        rest = (text[:m.start()] + " " + text[m.end():]).split()
        return float(m.group(1)) / 100.0, rest
    m = re.search(r"\b(twice|three times|half)\s+as\s+(\w+)", text)
    if m:
        factor = {"twice": 2.0, "three times": 3.0, "half": 0.5}[m.group(1)]
        return -factor, (text[:m.start()] + " " + m.group(2) + "er " + text[m.end():]).split()
    return None


def _relative(words: list[str]) -> tuple[int, int, tuple[Step, ...]] | None:
    """The first relative phrase in ``words`` (the longest one starting there): (start, length, steps)."""
    for i in range(len(words)):
        for n in range(min(5, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + n])
            if phrase in RELATIVE:
                return i, n, RELATIVE[phrase]
    return None


def _absolute(words: list[str]) -> tuple[str, tuple, list[str]] | None:
    """Lexicon words of the descriptor scorer in ``words``: (text, targets, unknown words)."""
    from studio.scoring.descriptors import read_prompt

    kept = [w for w in words if w not in FILLER]
    if not kept:
        return None
    reading = read_prompt(" ".join(kept))
    if not reading.understood:
        return None
    targets = tuple(t for u in reading.understood for t in u.targets)
    text = ", ".join(u.text for u in reading.understood)
    return text, targets, list(reading.unknown)


def read_edit(text: str) -> EditReading:
    """Read an edit into parts (see the module docstring); unknown words are collected, not raised."""
    if not isinstance(text, str) or not text.strip():
        raise EditError("the edit is empty: type a change such as 'brighter', 'an octave lower' or 'shorter and "
                        "more wobble'")
    text = " ".join(text.split())
    if len(text) > MAX_EDIT_CHARS:
        raise EditError(f"the edit is {len(text)} characters long; keep it under {MAX_EDIT_CHARS}")
    parts: list[EditPart] = []
    unknown: list[str] = []
    for clause in _split_clauses(text):
        clause = _clean(clause)
        if clause:
            _read_clause(clause, parts, unknown)
    return EditReading(text, tuple(parts), tuple(dict.fromkeys(unknown)))


def _read_clause(clause: str, parts: list[EditPart], unknown: list[str]) -> None:
    """One clause (between commas, "and", "but"…): intervals, relative phrases with the modifiers before each, then
    whatever words remain read as sound words of the lexicon ("more like a bell", "metallic")."""
    words = clause.split()
    interval = _interval(words)
    if interval is not None:
        semitones, words = interval
        strength, words, _, far = _strength(words)
        parts.append(EditPart(clause, "relative", (Step("pitch", add=semitones),), 1.0,
                              far=abs(semitones) > 7 or far))
    percent = _percent(words)
    amount = None
    if percent is not None:
        amount, words = percent
    rest: list[str] = []
    while (found := _relative(words)) is not None:
        start, n, steps = found
        strength, leftover, negated, far = _strength(words[:start])  # "slightly", "not", "much" before the phrase
        typed = " ".join(words[:start + n])
        if amount is not None:  # "50% brighter": the phrase's direction, the typed size
            steps, strength, amount = tuple(_sized(s, amount) for s in steps), 1.0, None
        parts.append(EditPart(typed, "keep" if negated else "relative", steps, strength, far=far))
        rest += leftover
        words = words[start + n:]
    rest = [w for w in rest + words if w not in FILLER or w in ("not", "no", "very", "slightly")]
    if not [w for w in rest if w not in FILLER]:
        return
    strength, rest, negated, _ = _strength(rest)
    like = LIKE.match(" ".join(rest))
    lexicon_words = (next(g for g in like.groups() if g) if like else " ".join(rest)).split()
    absolute = _absolute(lexicon_words)
    if absolute is None:
        unknown += [w for w in lexicon_words if w not in FILLER] or [clause]
        return
    shown, targets, leftover = absolute
    if negated:
        from studio.scoring.descriptors import apply_modifier

        targets = tuple(t for t in (apply_modifier(t, "not") for t in targets) if t is not None)
    parts.append(EditPart(clause if not parts else shown, "absolute", targets=targets, strength=strength, far=True))
    unknown += leftover


def _sized(step: Step, amount: float) -> Step:
    """A step resized by a typed amount: ``amount`` ≥ 0 a fraction (50 % → × 1.5 or ÷ 1.5), < 0 a factor."""
    up = step_sign(step) > 0
    if amount < 0:
        factor = -amount if up else 1.0 / (-amount)
        return Step(step.quality, factor=factor if step.factor != 1.0 else 1.0,
                    add=(step.add * -amount if step.add else 0.0), least=step.least)
    if step.factor != 1.0:
        return Step(step.quality, factor=(1 + amount) if up else 1.0 / (1 + amount), least=step.least)
    return Step(step.quality, add=step.add * amount / 0.5 if step.add else 0.0, least=step.least)


def known_edits() -> list[str]:
    """Relative phrases and interval forms for help texts."""
    return sorted(RELATIVE) + ["an octave higher/lower", "a fifth up/down", "N semitones up/down"]


# ----------------------------------------------------------------------------------------------
# Applying an edit
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityChange:
    quality: str
    before: float
    after: float
    wanted: str  # "up", "down", "no higher", "no lower", "target"
    target: tuple[float, float]  # the band aimed at (natural units)
    ok: bool

    def describe(self) -> str:
        label = mc.MACROS[self.quality].label if self.quality in mc.MACROS else self.quality.replace("_", " ")
        fmt = mc.format_quality
        return f"{label} {fmt(self.quality, self.before)} → {fmt(self.quality, self.after)} {'✓' if self.ok else '✗'}"


@dataclass(frozen=True)
class EditResult:
    theta: np.ndarray
    reading: EditReading
    before: dict[str, float]
    after: dict[str, float]
    changes: tuple[QualityChange, ...]
    distance: float  # perceptual distance from the start sound
    budget: float  # the δ-variation distance it was held to
    delta: float  # that δ
    notes: tuple[str, ...] = ()
    renders: int = 0
    elapsed_ms: float = 0.0
    changed: bool = True
    judge: str = "descriptors"  # or "CLAP + closeness"
    others: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [c.describe() for c in self.changes]
        closeness = (f"distance {self.distance:.2f} (a δ = {self.delta:g} variation: {self.budget:.2f})")
        return "; ".join(parts + [closeness] + list(self.notes))


def _relative_band(step: Step, strength: float, before: float) -> tuple[float, float] | None:
    """The band a relative step aims at from the measured ``before`` (None when it cannot apply)."""
    if step.factor != 1.0:
        if not np.isfinite(before):
            return None
        f = step.factor ** strength
        lo, hi = sorted((before * f ** STEP_BAND[0], before * f ** STEP_BAND[1]))
        if step.least and f > 1:
            target = max(before * f, before + step.least * strength)
            lo, hi = max(lo, before + 0.7 * step.least * strength), max(hi, target * 1.4)
        return lo, hi
    if not np.isfinite(before):
        return None
    d = step.add * strength
    return tuple(sorted((before + d * STEP_BAND[0], before + d * STEP_BAND[1])))


def variation_budget(theta, settings: RenderSettings, delta: float, count: int = 7, seed: int = 0,
                     locks=None) -> tuple[float, np.ndarray]:
    """(the median perceptual distance of ``count`` δ-doppelgängers of this sound — its own scale of "a small
    change" —, the sound's embedding); locks as the edit's."""
    from .doppelgangers import doppelgangers

    variants = doppelgangers(np.asarray(theta, np.float32), delta, count, seed, locks)
    embeddings = mc.embed_thetas(np.concatenate([np.asarray(theta, np.float32)[None], variants]), settings)
    return float(np.median(np.linalg.norm(embeddings[1:] - embeddings[:1], axis=-1))), embeddings[0]


def edited_prompt(sound, text: str) -> str:
    """The text CLAP judges an edit by: the sound's prompt (else its tags, else its name) and the edit."""
    base = getattr(sound, "prompt", None) or ", ".join(getattr(sound, "tags", ()) or ()) or getattr(sound, "name", "")
    return f"{base}, {text}".strip(", ")


def apply_edit(theta, settings: RenderSettings, text: str, locks=None, *, seed: int = 0, scorer=None,
               sound=None, refine: int = 2) -> EditResult:
    """Apply an edit in words to θ (see the module docstring). :class:`EditError` — and nothing changed — for
    words it does not know or an edit that names nothing.

    scorer: a CLAP scorer with real weights (``scorer.semantic`` and not ``scorer.jittable``) also judges the
    candidates on :func:`edited_prompt`; any other scorer (or None) leaves the descriptor targets alone in charge.
    """
    start = time.perf_counter()
    reading = read_edit(text)
    if reading.unknown:
        raise EditError(f"not understood: {', '.join(repr(w) for w in reading.unknown)} — nothing changed. "
                        f"Understood so far: {reading.explain() if reading.parts else 'nothing'}. Try words like "
                        "brighter, darker, shorter, longer, higher, an octave lower, more wobble, less noise, "
                        "snappier, richer, slightly darker, more like a bell")
    if not reading.parts:
        raise EditError("the edit names no change: try 'brighter', 'an octave lower' or 'shorter and more wobble'")
    theta0 = np.asarray(theta, np.float32).copy()
    mask = mc.lock_mask(locks)
    before = mc.measure(theta0, settings)
    targets: dict[str, tuple[float, float, float]] = {}
    grouped: list[tuple] = []
    wanted: dict[str, str] = {}
    notes: list[str] = []
    for part in reading.parts:
        if part.kind == "absolute":
            for t in part.targets:
                options = getattr(t, "options", None)
                if options:
                    grouped.append(tuple((o.descriptor, o.lo, o.hi, mc.TARGET_WEIGHT * o.weight) for o in options))
                    continue
                if math.isinf(t.lo) and math.isinf(t.hi):
                    targets.setdefault(t.descriptor, (-math.inf, math.inf, mc.TARGET_WEIGHT * t.weight))
                    continue
                lo, hi = _clip_time_band(t.descriptor, t.lo, t.hi, settings)
                targets[t.descriptor] = (lo, hi, mc.TARGET_WEIGHT * t.weight)
                wanted[t.descriptor] = "target"
            continue
        for step in part.steps:
            q = step.quality
            if part.kind == "keep":
                b = before[q]
                if not np.isfinite(b):
                    continue
                bound = (-math.inf, b * 1.02 if step.factor != 1.0 else b + 0.1) if step_sign(step) > 0 else \
                    (b / 1.02 if step.factor != 1.0 else b - 0.1, math.inf)
                targets[q] = (*bound, mc.TARGET_WEIGHT)
                wanted[q] = "no higher" if step_sign(step) > 0 else "no lower"
                continue
            reason = _cannot(q, step_sign(step), before, settings, step.add * part.strength)
            if reason:
                label = mc.MACROS[q].label if q in mc.MACROS else q
                notes.append(f"{label}: {reason} ({part.text!r} skipped)")
                continue
            band = _relative_band(step, part.strength, before[q])
            if band is None:
                label = mc.MACROS[q].label if q in mc.MACROS else q
                notes.append(f"{label}: this sound has none to change ({part.text!r} skipped)")
                continue
            lo, hi = _clip_time_band(q, *band, settings)
            if step_sign(step) < 0 and before[q] < ABSENT.get(q, -math.inf):
                label = mc.MACROS[q].label if q in mc.MACROS else q
                notes.append(f"{label}: there is almost none to take away ({part.text!r} skipped)")
                continue
            targets[q] = (lo, hi, mc.TARGET_WEIGHT)
            wanted[q] = "up" if step_sign(step) > 0 else "down"
    if not targets and not grouped:
        raise EditError("nothing in this edit applies to this sound — nothing changed" +
                        (f" ({'; '.join(notes)})" if notes else ""))
    delta = FAR_DELTA if reading.far else CLOSE_DELTA
    budget, start_embedding = variation_budget(theta0, settings, delta, seed=seed, locks=mask)

    def closeness(embeddings: np.ndarray) -> np.ndarray:
        distance = np.linalg.norm(embeddings - start_embedding, axis=-1)
        return CLOSE_WEIGHT * np.maximum(distance - budget, 0.0) / max(budget, 1e-3)

    audio_cost = None
    judge = "descriptors"
    if scorer is not None and getattr(scorer, "semantic", False) and not getattr(scorer, "jittable", True):
        prompt = edited_prompt(sound, text) if sound is not None else text
        judge = f"CLAP on '{prompt}' + closeness"

        def audio_cost(audio: np.ndarray) -> np.ndarray:
            return CLAP_WEIGHT * (1.0 - np.asarray(scorer.score(audio, settings.sample_rate, prompt)))

    named = set(targets) | {q for options in grouped for q, *_ in options}
    keep = {q: (before[q], 1.0) for q in mc.kept_qualities(before, [q for q in named if q in mc.MACROS])
            if q not in named}
    goal = mc.Goal(targets, keep, closeness, audio_cost, tuple(grouped))
    # One stage per relative quality (each from the best so far, judged on the whole goal: "darker and longer"
    # needs two moves combined), then one for the sound words' targets together.
    relative = [q for q in targets if wanted.get(q) in ("up", "down") and q in mc.HANDLES]
    absolute = [q for q in targets if q not in relative] + [q for options in grouped for q, *_ in options]
    stages = [[q] for q in relative] + ([absolute] if absolute else [])
    stats = mc.SearchStats()
    best, best_profile = theta0, None
    from studio.audio.sound_profile import profile_as_dict

    for k, stage in enumerate(stages):
        now = before if best_profile is None else profile_as_dict(best_profile)

        def aim_of(q, now=now):
            if q in targets:
                return _aim(q, targets[q][0], targets[q][1], now[q])
            lo, hi = next((o[1], o[2]) for g in grouped for o in g if o[0] == q)
            return _aim(q, lo, hi, now[q])

        candidates = [c for q in stage for c in mc.handle_candidates(q, best, now, aim_of(q))]

        def again(theta, profile, stage=stage):
            current = profile_as_dict(profile)
            return [c for q in stage for c in mc.handle_candidates(q, theta, current, aim_of(q))]

        last = k == len(stages) - 1
        # Without handles (a quality only the refinement's sparse steps can move) the search refines longer.
        best, best_profile, _ = mc.search(best, settings, goal, mask, candidates, seed=seed + k,
                                          refine=(refine if last else 1) + (0 if candidates else 2), stats=stats,
                                          again=again)
    changed = not np.array_equal(best, theta0)
    after = mc.measure(best, settings) if changed else dict(before)
    stats.renders += int(changed)
    distance = float(np.linalg.norm(mc.embed_thetas(best[None], settings)[0] - start_embedding)) if changed else 0.0
    changes = []
    for q in list(targets) + [q for options in grouped for q, *_ in options if q not in targets]:
        lo, hi = targets[q][:2] if q in targets else next((o[1], o[2]) for g in grouped for o in g if o[0] == q)
        how = wanted.get(q, "target")
        b, a = before.get(q, math.nan), after.get(q, math.nan)
        ok = _moved_right(q, how, b, a, lo, hi)
        changes.append(QualityChange(q, b, a, how, (lo, hi), ok))
    for options in grouped:  # alternatives: one met is enough
        names = {o[0] for o in options}
        any_ok = any(c.ok for c in changes if c.quality in names)
        changes = [QualityChange(c.quality, c.before, c.after, c.wanted, c.target, any_ok) if c.quality in names
                   else c for c in changes]
    if not changed:
        notes.append("no move found that brings it closer within the locks and the closeness bound: nothing changed")
    others = {q: float(mc.quality_gap(q, after[q], before[q])) for q in keep}
    return EditResult(best, reading, before, after, tuple(changes), distance, budget, delta, tuple(notes),
                      stats.renders, (time.perf_counter() - start) * 1000.0, changed, judge, others)


def _cannot(q: str, sign: int, before: dict, settings: RenderSettings, add: float) -> str:
    """Why a relative step cannot apply to this sound ("" when it can): a quality already at the end of what the
    buffer or the measurement allows, or a wobble on a sound too short to carry one."""
    from studio.audio.sound_profile import PITCH_MIN_HZ, VIBRATO_MIN_SPAN_S

    value = before.get(q, math.nan)
    if q in ("length", "decay") and sign > 0 and value >= 0.9 * settings.duration:
        return f"it already lasts the whole {settings.duration:g} s buffer (raise Buffer length first)"
    if q == "attack" and sign < 0 and value <= 0.003:
        return "the attack is already as short as it gets"
    if q == "noisiness" and sign > 0 and value >= 0.5:
        return "it is already white noise"
    if q == "brightness" and sign > 0 and value >= 9000.0:
        return "it is already about as bright as this synth gets (white noise reads ~12 kHz)"
    lowest = 69.0 + 12.0 * math.log2(PITCH_MIN_HZ / 440.0)
    if q == "pitch" and np.isfinite(value) and not lowest + 0.5 <= value + add <= 100.0:
        return "that goes beyond the pitches the studio can measure (about 50 Hz to 2.6 kHz)"
    if q in ("vibrato_depth", "vibrato_rate") and not np.isfinite(before.get("vibrato_rate", math.nan)) \
            and before.get("length", 0.0) < VIBRATO_MIN_SPAN_S:
        return f"the sound is too short to carry a vibrato ({VIBRATO_MIN_SPAN_S:g} s or more)"
    if q in ("tremolo_depth", "tremolo_rate") and not np.isfinite(before.get("tremolo_rate", math.nan)) \
            and before.get("length", 0.0) < 1.0:
        return "the sound is too short to carry a tremolo (1 s or more)"
    return ""


def _clip_time_band(q: str, lo: float, hi: float, settings: RenderSettings) -> tuple[float, float]:
    if q in ("attack", "decay", "length"):
        ceiling = 0.95 * settings.duration
        return min(lo, ceiling), min(hi, settings.duration) if np.isfinite(hi) else hi
    return lo, hi


def _aim(q: str, lo: float, hi: float, before: float) -> float:
    """A single value to aim the handles at: the band's nearer edge pushed inside, or its middle."""
    if np.isfinite(lo) and np.isfinite(hi):
        return math.sqrt(lo * hi) if lo > 0 and q in mc.MACROS and mc.MACROS[q].log else (lo + hi) / 2
    if np.isfinite(lo):
        return lo * 1.1 if lo > 0 else lo + 0.1
    if np.isfinite(hi):
        return hi * 0.9 if hi > 0 else hi - 0.1
    return before


def _moved_right(q: str, how: str, before: float, after: float, lo: float, hi: float) -> bool:
    """Whether a quality moved the way the words asked: up/down by a noticeable step (a tenth of the asked step in
    units), stayed on its side for "not", or landed in the band for an absolute word."""
    if not np.isfinite(after):
        return False
    if how == "target":
        return (not np.isfinite(lo) or after >= lo) and (not np.isfinite(hi) or after <= hi)
    if how in ("no higher", "no lower"):  # stayed inside its bound: the start's value and a hair
        return after <= hi if how == "no higher" else after >= lo
    if not np.isfinite(before):
        return False
    edge = lo if how == "up" else hi
    asked = abs(float(mc.to_units(q, edge)) - float(mc.to_units(q, before))) / STEP_BAND[0]
    moved = float(mc.to_units(q, after)) - float(mc.to_units(q, before))
    return moved * (1 if how == "up" else -1) >= 0.1 * asked and moved != 0


__all__ = ["EditError", "EditPart", "EditReading", "EditResult", "QualityChange", "RELATIVE", "Step", "apply_edit",
           "edited_prompt", "known_edits", "read_edit", "variation_budget"]
