"""The offline descriptor scorer: a prompt read through a lexicon of sound words, judged on measured descriptors.

No model, no network: each known word or phrase ("bright", "pluck", "siren", "dog bark") stands for target
ranges on descriptors measured from the rendered audio (:mod:`studio.audio.sound_profile`): pitch, brightness,
noisiness, attack, decay, length, tremolo and vibrato rate and depth, pitch glide and range, roughness,
loudness. Modifiers change the next word: "very" pushes its thresholds one step further, "slightly" pulls
them half a step back and caps the other side, "not" turns a one-sided target around. The scorer says what
it understood — ``explain("short bright glorp")`` → ``short → length < 0.3 s; bright → brightness > 3 kHz;
'glorp' unknown`` — and scores a sound by how well it meets every target: ``exp(−mean violation)`` in (0, 1],
1 when all are met (violations in units of :data:`studio.scoring.base.SCALES`); sounds quieter than −40 dBFS
lose fit for every 6 dB below.

It knows what words mean for *this* synth's sounds, not what a dog sounds like: a composite word is a sketch
(a bark is short, rough, mid-pitched and a little noisy), and the results are sketches too.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.sound_profile import QUALITIES, profiler
from studio.checks import midi_to_hz, note_name
from studio.synth import RenderSettings

from .base import PromptError, Terms, check_prompt, inaudibility, make_terms, weighted_mean_violation

INF = math.inf
MAX_TERMS = 32  # fixed slot count: prompts compile once (each word adds 1–5 targets; later words past this are cut)


@dataclass(frozen=True)
class Target:
    """One target of a word: descriptor in [lo, hi] (natural units, ±inf for one side), with a weight."""

    descriptor: str
    lo: float = -INF
    hi: float = INF
    weight: float = 1.0

    @property
    def one_sided(self) -> bool:
        return math.isinf(self.lo) != math.isinf(self.hi)


def above(descriptor: str, value: float, weight: float = 1.0) -> Target:
    return Target(descriptor, value, INF, weight)


def below(descriptor: str, value: float, weight: float = 1.0) -> Target:
    return Target(descriptor, -INF, value, weight)


def between(descriptor: str, lo: float, hi: float, weight: float = 1.0) -> Target:
    return Target(descriptor, lo, hi, weight)


@dataclass(frozen=True)
class AnyOf:
    """Alternative targets: met when any one of ``options`` is ("inharmonic *or* sparse high partials")."""

    options: tuple[Target, ...]

    @property
    def descriptor(self) -> str:
        return self.options[0].descriptor

    @property
    def weight(self) -> float:
        return self.options[0].weight


def any_of(*options: Target) -> AnyOf:
    return AnyOf(tuple(options))


PITCHED = Target("pitch", weight=0.5)  # both bounds open: only asks that the sound has a pitch
ENDS = below("end_level", -40.0)  # the sound has died away inside the buffer
KEEPS_SOUNDING = above("end_level", -20.0)  # still sounding when the buffer ends: the prompt asks for that
CLEAN_ENDING = Target("end_level", -INF, -50.0, 0.5)  # added unless the words ask for a sound that keeps going

# How far "very" moves a threshold, per descriptor: (multiplicative?, step).
STEPS: dict[str, tuple[bool, float]] = {
    "pitch": (False, 12.0), "pitch_range": (False, 6.0), "glide": (False, 6.0), "vibrato_rate": (True, 1.5),
    "vibrato_depth": (True, 2.0), "brightness": (True, 2.0), "noisiness": (False, 0.15), "roughness": (False, 4.0),
    "attack": (True, 3.0), "decay": (True, 2.5), "length": (True, 2.0), "tremolo_rate": (True, 1.5),
    "tremolo_depth": (False, 6.0), "loudness": (False, 6.0), "richness": (True, 2.0), "inharmonicity": (False, 0.1),
    "brightness_motion": (False, 0.5), "end_level": (False, 20.0),
}
TIME_DESCRIPTORS = ("attack", "decay", "length")


# ----------------------------------------------------------------------------------------------
# The lexicon (≥ 100 words and phrases). Thresholds were set by measuring this synth's sounds (the factory
# presets and random patches, see tests/test_scoring.py): e.g. a sawtooth's centroid is 2–5 kHz, white noise
# reads 12 kHz and flatness 0.55, a pure tone flatness < 0.01.
# ----------------------------------------------------------------------------------------------
def _lexicon() -> dict[str, tuple[Target, ...]]:
    low, high = below("pitch", 48.0), above("pitch", 72.0)  # C3 (131 Hz), C5 (523 Hz)
    bright, dark = above("brightness", 3000.0), below("brightness", 800.0)
    noisy, pure = above("noisiness", 0.25), below("noisiness", 0.02)
    short, long_ = below("length", 0.3), above("length", 1.2)
    sharp_attack, slow_attack = below("attack", 0.01), above("attack", 0.3)
    quick_decay, sustained = below("decay", 0.3), above("decay", 1.0)
    rough, smooth = above("roughness", 6.0), below("roughness", 1.5)
    rising, falling = above("glide", 7.0), below("glide", -7.0)
    steady_pitch = below("vibrato_depth", 0.15, 0.5)
    no_tremolo = below("tremolo_depth", 1.5, 0.5)
    vibrato = (between("vibrato_rate", 4.0, 8.0), between("vibrato_depth", 0.3, 2.0), PITCHED)
    tremolo = (between("tremolo_rate", 3.0, 12.0), above("tremolo_depth", 6.0))
    loud, quiet = above("loudness", -6.0), below("loudness", -24.0)
    bark = (between("length", 0.1, 0.4), between("pitch", 50.0, 67.0), above("roughness", 3.0), below("attack", 0.03))
    # What words imply beyond their obvious quality (issue 17): a bell rings out and has inharmonic or sparse high
    # partials, a pad swells and holds, a pluck is short and dies fast, a drone does not change at all.
    bell_partials = any_of(above("inharmonicity", 0.02), between("richness", 1.15, 4.0))
    still = (below("brightness_motion", 0.3), below("vibrato_depth", 0.15, 0.5), below("pitch_range", 0.5, 0.5),
             no_tremolo)
    words: dict[str, tuple[Target, ...]] = {
        # pitch
        "low": (low,), "high": (high,), "deep": (below("pitch", 43.0),), "bass": (below("pitch", 43.0), PITCHED),
        "sub": (below("pitch", 36.0), pure), "subby": (below("pitch", 36.0),), "treble": (high, bright),
        "mid": (between("pitch", 52.0, 70.0),), "middle": (between("pitch", 52.0, 70.0),),
        "high pitched": (high, PITCHED), "low pitched": (low, PITCHED), "squeaky": (above("pitch", 84.0), PITCHED),
        "pitched": (PITCHED, below("noisiness", 0.1, 0.5)), "unpitched": (above("noisiness", 0.25),),
        "atonal": (above("noisiness", 0.25),), "tonal": (PITCHED, below("noisiness", 0.05)),
        "note": (PITCHED, below("noisiness", 0.1, 0.5)),
        # brightness and colour
        "bright": (bright,), "dark": (dark,), "brilliant": (above("brightness", 4000.0),),
        "warm": (between("brightness", 500.0, 1800.0), below("roughness", 3.0, 0.5)),
        "muffled": (below("brightness", 600.0),), "dull": (below("brightness", 700.0),),
        "crisp": (above("brightness", 4000.0), sharp_attack),
        "airy": (above("brightness", 5000.0), above("noisiness", 0.15)),
        "thin": (above("brightness", 2000.0), above("pitch", 67.0, 0.5)),
        "hollow": (between("brightness", 800.0, 2500.0), pure, between("richness", 1.6, 3.5)),
        "fat": (below("pitch", 55.0), above("roughness", 2.0, 0.5)),
        "thick": (below("pitch", 55.0), above("roughness", 2.0, 0.5)),
        "heavy": (below("pitch", 45.0), loud), "light": (above("pitch", 67.0), below("loudness", -12.0, 0.5)),
        "mellow": (below("brightness", 1200.0), smooth, pure), "sweet": (pure, between("pitch", 64.0, 84.0), smooth),
        "cold": (bright, pure),
        "glassy": (above("pitch", 72.0), pure, sustained),
        "metallic": (any_of(above("inharmonicity", 0.05), above("roughness", 4.0)), above("brightness", 2000.0),
                     above("decay", 0.5)),
        "shrill": (above("pitch", 80.0), above("brightness", 3000.0)), "piercing": (above("pitch", 80.0), loud),
        # noise
        "noisy": (noisy,), "noise": (noisy,), "hiss": (above("noisiness", 0.35), above("brightness", 5000.0)),
        "hissy": (above("noisiness", 0.3), above("brightness", 4000.0)),
        "pure": (pure, PITCHED, below("richness", 1.5)),
        "clean": (below("noisiness", 0.05), smooth),
        "breathy": (between("noisiness", 0.08, 0.35), PITCHED), "static": (above("noisiness", 0.35), rough),
        "white noise": (above("noisiness", 0.45), above("brightness", 8000.0)),
        # roughness
        "rough": (rough,), "smooth": (smooth,), "gritty": (rough, above("noisiness", 0.05, 0.5)),
        "harsh": (rough, above("brightness", 2500.0)), "raspy": (rough, above("noisiness", 0.1)),
        "distorted": (above("roughness", 8.0), above("brightness", 2000.0)),
        "dirty": (above("roughness", 4.0), above("noisiness", 0.08)),
        "buzz": (above("roughness", 4.0), between("pitch", 45.0, 67.0), above("brightness", 1500.0)),
        "buzzy": (above("roughness", 4.0), above("brightness", 1500.0)),
        "growl": (above("roughness", 6.0), below("pitch", 45.0)),
        "crackle": (above("noisiness", 0.3), above("roughness", 6.0)),
        # envelope
        "short": (short,),
        "long": (long_,),
        "brief": (short,),
        "quick": (short,),
        "tiny": (below("length", 0.2), above("pitch", 67.0, 0.5)),
        "staccato": (below("length", 0.25), sharp_attack), "sustained": (sustained, long_, KEEPS_SOUNDING),
        "percussive": (sharp_attack, quick_decay),
        "punchy": (sharp_attack, between("decay", 0.08, 0.5), above("loudness", -10.0)),
        "snappy": (below("attack", 0.005), below("decay", 0.15)),
        "sharp": (below("attack", 0.005), above("brightness", 2500.0)),
        "soft": (above("attack", 0.03), below("brightness", 1500.0), below("loudness", -12.0, 0.5)),
        "gentle": (above("attack", 0.05), below("brightness", 1500.0), smooth),
        "swell": (above("attack", 0.5), long_), "swelling": (above("attack", 0.5), long_),
        "fade in": (above("attack", 0.6),), "fade out": (above("decay", 0.8), long_), "fade": (above("decay", 0.8),),
        "fading": (above("decay", 0.8),), "slow attack": (slow_attack,), "fast attack": (sharp_attack,),
        "decaying": (between("decay", 0.2, 1.0),), "ringing": (above("decay", 1.0), PITCHED),
        "slow": (slow_attack, below("vibrato_rate", 3.0, 0.3)),
        "fast": (below("attack", 0.02), above("tremolo_rate", 8.0, 0.3)),
        # pitch movement
        "rising": (rising,), "ascending": (rising,), "falling": (falling,), "descending": (falling,),
        "upward": (rising,), "downward": (falling,), "riser": (above("glide", 12.0), long_),
        "drop": (below("glide", -12.0),), "dive": (below("glide", -12.0),), "sweep": (above("pitch_range", 10.0),),
        "bend": (between("pitch_range", 1.0, 6.0), PITCHED), "slide": (above("pitch_range", 3.0), PITCHED),
        "glide": (above("pitch_range", 3.0), PITCHED),
        "steady": (steady_pitch, no_tremolo, below("pitch_range", 0.5, 0.5)),
        "stable": (steady_pitch, below("pitch_range", 0.5)),
        # modulation
        "vibrato": vibrato, "tremolo": tremolo,
        "wobble": (between("vibrato_rate", 1.0, 6.0), above("vibrato_depth", 1.0), PITCHED),
        "wobbly": (between("vibrato_rate", 1.0, 6.0), above("vibrato_depth", 1.0), PITCHED),
        "warble": (between("vibrato_rate", 6.0, 14.0), between("vibrato_depth", 1.0, 5.0), PITCHED),
        "wavering": (between("vibrato_rate", 3.0, 8.0), between("vibrato_depth", 0.3, 2.0), PITCHED),
        "siren": (above("pitch_range", 7.0), between("vibrato_rate", 0.5, 3.0), long_, PITCHED),
        "pulsing": (between("tremolo_rate", 1.5, 6.0), above("tremolo_depth", 10.0)),
        "throbbing": (between("tremolo_rate", 1.5, 6.0), above("tremolo_depth", 10.0), low),
        "rhythmic": (between("tremolo_rate", 2.0, 8.0), above("tremolo_depth", 10.0)),
        "flutter": (between("tremolo_rate", 10.0, 20.0), above("tremolo_depth", 4.0)),
        "fluttering": (between("tremolo_rate", 10.0, 20.0), above("tremolo_depth", 4.0)),
        "trembling": (between("tremolo_rate", 5.0, 12.0), between("tremolo_depth", 2.0, 10.0)),
        "shimmer": (between("tremolo_rate", 6.0, 16.0), between("tremolo_depth", 2.0, 8.0), bright),
        "shimmering": (between("tremolo_rate", 6.0, 16.0), between("tremolo_depth", 2.0, 8.0), bright),
        "trill": (between("vibrato_rate", 5.0, 12.0), between("vibrato_depth", 1.5, 4.0), PITCHED),
        # loudness
        "loud": (loud,), "quiet": (quiet,), "faint": (below("loudness", -30.0),),
        # size and character
        "big": (below("pitch", 50.0), long_, loud), "huge": (below("pitch", 43.0), long_, loud),
        "massive": (below("pitch", 40.0), long_, loud), "small": (above("pitch", 67.0), short),
        "aggressive": (rough, above("brightness", 2500.0), loud), "angry": (rough, above("brightness", 2500.0)),
        "calm": (smooth, no_tremolo, steady_pitch, above("attack", 0.05)),
        "eerie": (between("vibrato_rate", 3.0, 8.0), between("vibrato_depth", 0.5, 3.0), slow_attack, pure),
        "spooky": (between("vibrato_rate", 3.0, 8.0), between("vibrato_depth", 0.5, 3.0), slow_attack, pure),
        "robotic": (above("roughness", 5.0), PITCHED, between("tremolo_rate", 8.0, 20.0)),
        "robot": (above("roughness", 5.0), PITCHED, between("tremolo_rate", 8.0, 20.0)),
        "alien": (above("vibrato_depth", 1.0), long_, above("pitch", 60.0)),
        "spacey": (above("vibrato_depth", 0.5), long_, slow_attack),
        "retro": (above("brightness", 2500.0), below("noisiness", 0.05), above("pitch", 60.0)),
        "8 bit": (above("brightness", 2500.0), below("noisiness", 0.05), above("pitch", 60.0)),
        "chiptune": (above("brightness", 2500.0), below("noisiness", 0.05), above("pitch", 60.0)),
        "arcade": (above("brightness", 2500.0), above("pitch", 64.0), short),
        # instruments and synth roles
        "pluck": (sharp_attack, quick_decay, between("pitch", 45.0, 84.0), below("length", 0.6), ENDS),
        "plucked": (sharp_attack, quick_decay, PITCHED, below("length", 0.6), ENDS),
        "pad": (above("attack", 0.2), above("length", 1.5), below("noisiness", 0.1), above("decay", 0.8)),
        "drone": (above("length", 1.5), below("pitch", 55.0), PITCHED, above("decay", 1.5), KEEPS_SOUNDING, *still),
        "lead": (between("pitch", 60.0, 84.0), above("brightness", 2000.0), above("length", 0.5), PITCHED),
        "organ": (below("attack", 0.05), sustained, pure, no_tremolo, PITCHED, KEEPS_SOUNDING),
        "strings": (between("attack", 0.05, 0.4), between("vibrato_depth", 0.1, 1.0), PITCHED, long_),
        "violin": (between("attack", 0.05, 0.3), vibrato[0], vibrato[1], above("pitch", 55.0)),
        "brass": (between("attack", 0.02, 0.15), above("brightness", 2000.0), PITCHED),
        "horn": (between("pitch", 45.0, 65.0), below("attack", 0.05), above("length", 0.5),
                 above("brightness", 1000.0)),
        "flute": (between("pitch", 67.0, 91.0), between("noisiness", 0.03, 0.2), between("attack", 0.03, 0.2)),
        "whistle": (above("pitch", 79.0), below("noisiness", 0.05), below("brightness", 4000.0), above("length", 0.4)),
        "bell": (sharp_attack, above("decay", 0.6), above("pitch", 67.0), below("noisiness", 0.03), ENDS,
                 bell_partials),
        "chime": (sharp_attack, above("decay", 0.6), above("pitch", 79.0), pure, ENDS, bell_partials),
        "gong": (below("pitch", 50.0), above("decay", 1.2), above("roughness", 3.0), ENDS,
                 any_of(above("inharmonicity", 0.05), above("richness", 3.0))),
        "kick": (below("brightness", 600.0), below("decay", 0.3), sharp_attack, below("length", 0.6)),
        "snare": (above("noisiness", 0.25), below("length", 0.4), sharp_attack),
        "hihat": (above("noisiness", 0.35), above("brightness", 7000.0), below("length", 0.3)),
        "hi hat": (above("noisiness", 0.35), above("brightness", 7000.0), below("length", 0.3)),
        "cymbal": (above("noisiness", 0.35), above("brightness", 7000.0), above("decay", 0.8)),
        "clap": (above("noisiness", 0.3), below("length", 0.3), sharp_attack, between("brightness", 1000.0, 5000.0)),
        "drum": (sharp_attack, quick_decay, below("brightness", 2000.0)),
        "click": (below("length", 0.05), below("attack", 0.005)),
        "tick": (below("length", 0.05), above("brightness", 3000.0)),
        "blip": (above("pitch", 67.0), between("length", 0.04, 0.3), pure),
        "beep": (above("pitch", 67.0), between("length", 0.08, 0.5), pure, steady_pitch),
        "boop": (between("pitch", 55.0, 67.0), below("length", 0.3), pure),
        # effects and things
        "laser": (below("glide", -12.0), below("length", 0.6), above("pitch", 60.0)),
        "zap": (below("glide", -7.0), below("length", 0.3)),
        "whoosh": (above("noisiness", 0.3), above("attack", 0.2), between("length", 0.5, 1.6),
                   above("brightness_motion", 0.5)),
        "wind": (above("noisiness", 0.3), above("length", 1.5), above("attack", 0.2), KEEPS_SOUNDING),
        "ocean": (above("noisiness", 0.3), above("length", 1.8), above("attack", 0.3),
                  between("brightness", 800.0, 5000.0)),
        "waves": (above("noisiness", 0.3), above("length", 1.8), above("attack", 0.3)),
        "rain": (above("noisiness", 0.35), above("brightness", 4000.0), above("length", 1.5), above("roughness", 3.0)),
        "thunder": (above("noisiness", 0.3), below("brightness", 1500.0), above("length", 1.5), below("attack", 0.05)),
        "explosion": (above("noisiness", 0.3), below("brightness", 2000.0), above("decay", 0.5), below("attack", 0.02)),
        "boom": (below("brightness", 500.0), above("decay", 0.4), below("attack", 0.02)),
        "thud": (below("brightness", 500.0), below("length", 0.4), sharp_attack),
        "thump": (below("brightness", 500.0), below("length", 0.4), sharp_attack),
        "hum": (between("pitch", 40.0, 55.0), pure, long_, below("brightness", 800.0), KEEPS_SOUNDING),
        "engine": (below("pitch", 45.0), above("roughness", 4.0), above("length", 1.5), KEEPS_SOUNDING),
        "motor": (below("pitch", 50.0), above("roughness", 4.0), above("length", 1.5), KEEPS_SOUNDING),
        "bee": (between("pitch", 50.0, 62.0), above("roughness", 3.0), above("brightness", 1500.0), long_),
        "bees": (between("pitch", 50.0, 62.0), above("roughness", 3.0), above("brightness", 1500.0), long_),
        "mosquito": (above("pitch", 72.0), above("brightness", 2000.0), above("length", 1.0)),
        "alarm": (above("pitch", 72.0), above("pitch_range", 3.0), above("length", 1.5)),
        "ring": (above("pitch", 72.0), between("tremolo_rate", 10.0, 25.0), above("tremolo_depth", 6.0)),
        "doorbell": (sharp_attack, above("decay", 0.5), between("pitch", 72.0, 84.0), pure, ENDS, bell_partials),
        "bark": bark, "dog bark": bark,
        "meow": (between("pitch", 65.0, 80.0), between("length", 0.3, 1.0), above("pitch_range", 2.0)),
        "bird": (above("pitch", 79.0), below("length", 0.4), above("glide", 3.0)),
        "chirp": (above("pitch", 76.0), below("length", 0.3), above("glide", 5.0)),
        "tweet": (above("pitch", 79.0), below("length", 0.3), above("glide", 3.0)),
        "croak": (below("pitch", 55.0), above("roughness", 5.0), below("length", 0.6)),
        "frog": (below("pitch", 55.0), above("roughness", 5.0), below("length", 0.6)),
        "drip": (above("pitch", 72.0), above("glide", 5.0), below("length", 0.2)),
        "droplet": (above("pitch", 72.0), above("glide", 5.0), below("length", 0.2)),
        "bubble": (between("pitch", 60.0, 84.0), above("glide", 5.0), below("length", 0.3)),
        "ghost": (between("vibrato_rate", 3.0, 8.0), between("vibrato_depth", 0.5, 3.0), slow_attack,
                  above("pitch", 65.0)),
        "ufo": (above("vibrato_depth", 2.0), between("vibrato_rate", 2.0, 10.0), long_, above("pitch", 60.0)),
    }
    words.update(_everyday_words(words, bell_partials, still))
    return words


def steady() -> Target:
    return below("vibrato_depth", 0.15, 0.5)


def no_wobble() -> Target:
    return below("vibrato_depth", 0.3, 0.5)


def _everyday_words(words, bell_partials, still) -> dict[str, tuple]:
    """Synonyms and everyday words (issue 17), built from the same measurable targets as the core lexicon; an entry
    the core lexicon already has is left to it."""
    low = below("pitch", 48.0)
    dark = below("brightness", 800.0)
    noisy, pure = above("noisiness", 0.25), below("noisiness", 0.02)
    short, long_ = below("length", 0.3), above("length", 1.2)
    sharp_attack, slow_attack = below("attack", 0.01), above("attack", 0.3)
    sustained = above("decay", 1.0)
    rough, smooth = above("roughness", 6.0), below("roughness", 1.5)
    loud, quiet = above("loudness", -6.0), below("loudness", -24.0)
    rich, simple = above("richness", 4.0), below("richness", 1.3)
    moving = above("brightness_motion", 0.6)
    wobble = (between("vibrato_rate", 1.0, 6.0), above("vibrato_depth", 1.0), PITCHED)
    pulsing = (between("tremolo_rate", 1.5, 8.0), above("tremolo_depth", 8.0))
    bellish = (sharp_attack, above("decay", 0.5), pure, ENDS, bell_partials)
    keeps = KEEPS_SOUNDING
    new: dict[str, tuple] = {
        # everyday sound events
        "rumble": (below("pitch", 40.0), long_, dark, above("roughness", 3.0, 0.5)),
        "ping": (*bellish, above("pitch", 76.0)),
        "ding": (*bellish, between("pitch", 72.0, 90.0)), "dong": (*bellish, between("pitch", 55.0, 72.0)),
        "clang": (sharp_attack, above("decay", 0.4), above("brightness", 2000.0), ENDS,
                  any_of(above("inharmonicity", 0.05), above("roughness", 4.0))),
        "roar": (noisy, loud, below("brightness", 2500.0), long_, above("roughness", 3.0)),
        "sizzle": (above("noisiness", 0.3), above("brightness", 6000.0), above("roughness", 3.0)),
        "fizz": (above("noisiness", 0.3), above("brightness", 6000.0), short),
        "bleep": (above("pitch", 72.0), between("length", 0.05, 0.3), pure, steady(), ENDS),
        "bloop": (between("pitch", 50.0, 67.0), below("length", 0.35), pure, below("glide", -2.0)),
        "blop": (between("pitch", 50.0, 67.0), below("length", 0.3), pure),
        "plop": (between("pitch", 55.0, 72.0), below("length", 0.25), pure, above("glide", 3.0)),
        "pop": (below("length", 0.08), sharp_attack, above("brightness", 800.0)),
        "tap": (below("length", 0.1), sharp_attack, ENDS),
        "knock": (below("length", 0.15), sharp_attack, below("brightness", 2000.0), ENDS),
        "thunk": (below("length", 0.25), sharp_attack, below("brightness", 800.0), ENDS),
        "clack": (below("length", 0.08), sharp_attack, above("brightness", 2000.0), above("noisiness", 0.1)),
        "snap": (below("length", 0.06), below("attack", 0.003), above("brightness", 3000.0)),
        "crack": (below("length", 0.15), below("attack", 0.003), noisy, above("brightness", 2500.0)),
        "bang": (sharp_attack, noisy, above("decay", 0.2), loud, ENDS),
        "crash": (sharp_attack, above("noisiness", 0.3), above("brightness", 4000.0), above("decay", 0.6), ENDS),
        "smash": (sharp_attack, above("noisiness", 0.3), above("decay", 0.3), ENDS),
        "blast": (sharp_attack, noisy, loud, below("brightness", 3000.0), above("decay", 0.4)),
        "burst": (sharp_attack, noisy, between("length", 0.05, 0.5)),
        "rattle": (above("noisiness", 0.2), between("tremolo_rate", 8.0, 20.0), above("tremolo_depth", 6.0)),
        "purr": (below("pitch", 45.0), above("tremolo_rate", 12.0), above("roughness", 4.0), long_),
        "whine": (above("pitch", 76.0), long_, above("brightness", 1500.0), PITCHED),
        "whir": (between("pitch", 48.0, 72.0), long_, above("tremolo_rate", 8.0, 0.5), keeps),
        "whirr": (between("pitch", 48.0, 72.0), long_, above("tremolo_rate", 8.0, 0.5), keeps),
        "swoosh": words["whoosh"], "swish": (above("noisiness", 0.3), between("length", 0.15, 0.8), moving),
        "whiz": (above("pitch_range", 6.0), between("length", 0.2, 1.0), above("brightness", 2000.0)),
        "whizz": (above("pitch_range", 6.0), between("length", 0.2, 1.0), above("brightness", 2000.0)),
        "zip": (above("glide", 7.0), below("length", 0.3)),
        "zing": (above("pitch", 76.0), above("glide", 3.0), short),
        "twang": (sharp_attack, between("decay", 0.2, 1.0), rich, PITCHED, ENDS),
        "boing": (sharp_attack, above("pitch_range", 3.0), above("vibrato_depth", 0.5), between("length", 0.3, 1.2)),
        "wah": (moving, PITCHED, between("length", 0.2, 1.0)),
        "buzzer": (above("roughness", 4.0), above("brightness", 1500.0), between("length", 0.3, 1.5), rich),
        "foghorn": (below("pitch", 45.0), long_, above("richness", 3.0), below("attack", 0.2)),
        "klaxon": (between("pitch", 55.0, 72.0), above("roughness", 4.0), above("tremolo_depth", 6.0), long_),
        "sonar": (*bellish, between("pitch", 72.0, 88.0), above("decay", 0.8)),
        "radar": (*bellish, between("pitch", 72.0, 88.0)),
        "heartbeat": (below("pitch", 48.0), between("tremolo_rate", 1.0, 2.5), above("tremolo_depth", 10.0), dark),
        "pulse": pulsing, "pulsating": pulsing,
        "beating": (between("tremolo_rate", 2.0, 12.0), above("roughness", 2.0)),
        "glitch": (short, above("noisiness", 0.1), above("roughness", 4.0)),
        "glitchy": (above("noisiness", 0.1), above("roughness", 6.0), above("tremolo_depth", 6.0)),
        "coin": (above("pitch", 76.0), between("length", 0.1, 0.5), above("glide", 3.0), pure, ENDS),
        "power up": (above("glide", 12.0), between("length", 0.3, 1.2), PITCHED),
        "powerup": (above("glide", 12.0), between("length", 0.3, 1.2), PITCHED),
        "jump": (above("glide", 5.0), between("length", 0.1, 0.4), PITCHED),
        "error": (between("pitch", 45.0, 60.0), above("roughness", 4.0), between("length", 0.2, 0.8)),
        "notification": (above("pitch", 72.0), between("length", 0.1, 0.6), pure, ENDS),
        "ringtone": (above("pitch", 72.0), above("tremolo_depth", 6.0), long_, pure),
        "breath": (between("noisiness", 0.25, 0.5), between("brightness", 1000.0, 6000.0), above("attack", 0.1)),
        "breeze": (above("noisiness", 0.3), above("length", 1.5), above("attack", 0.3), quiet, keeps),
        "gust": (above("noisiness", 0.3), above("attack", 0.2), between("length", 0.5, 1.6), moving),
        "storm": (above("noisiness", 0.3), above("length", 1.5), above("roughness", 3.0), keeps),
        "water": (above("glide", 3.0), above("noisiness", 0.05), short),
        "stream": (above("noisiness", 0.3), above("length", 1.5), above("roughness", 3.0), keeps),
        "fire": (above("noisiness", 0.3), above("roughness", 6.0), long_),
        "whisper": (between("noisiness", 0.3, 0.6), above("brightness", 3000.0), quiet),
        "sigh": (between("noisiness", 0.25, 0.5), below("glide", -2.0), above("attack", 0.1)),
        # instruments and synth roles
        "piano": (sharp_attack, between("decay", 0.4, 2.0), PITCHED, rich, ENDS),
        "guitar": (sharp_attack, between("decay", 0.3, 1.5), PITCHED, above("richness", 2.5), ENDS),
        "harp": (sharp_attack, between("decay", 0.3, 1.5), above("pitch", 60.0), below("richness", 3.0), ENDS),
        "marimba": (*bellish, between("pitch", 55.0, 84.0), below("decay", 0.8)),
        "xylophone": (*bellish, above("pitch", 72.0), below("decay", 0.6)),
        "vibraphone": (*bellish, between("pitch", 60.0, 84.0), above("decay", 0.8), above("tremolo_depth", 3.0, 0.5)),
        "glockenspiel": (*bellish, above("pitch", 84.0)),
        "music box": (*bellish, above("pitch", 76.0), below("loudness", -6.0, 0.5)),
        "kalimba": (*bellish, between("pitch", 60.0, 84.0), below("decay", 1.0)),
        "triangle": (*bellish, above("pitch", 88.0), above("decay", 0.8)),
        "cowbell": (sharp_attack, between("decay", 0.1, 0.6), between("pitch", 67.0, 84.0), ENDS,
                    any_of(above("inharmonicity", 0.05), between("richness", 1.5, 4.0))),
        "woodblock": (below("length", 0.15), sharp_attack, between("pitch", 67.0, 90.0), ENDS),
        "rimshot": (below("length", 0.1), sharp_attack, above("noisiness", 0.15), above("brightness", 2000.0)),
        "tom": (sharp_attack, between("decay", 0.15, 0.6), between("pitch", 36.0, 60.0), below("glide", 0.0, 0.5),
                ENDS),
        "bongo": (sharp_attack, below("decay", 0.3), between("pitch", 55.0, 72.0), ENDS),
        "conga": (sharp_attack, below("decay", 0.4), between("pitch", 48.0, 67.0), ENDS),
        "timpani": (sharp_attack, above("decay", 0.6), between("pitch", 36.0, 55.0), ENDS),
        "shaker": (above("noisiness", 0.35), above("brightness", 6000.0), below("length", 0.3)),
        "maraca": (above("noisiness", 0.35), above("brightness", 6000.0), below("length", 0.25)),
        "tambourine": (above("noisiness", 0.3), above("brightness", 6000.0), between("length", 0.1, 0.6),
                       above("tremolo_depth", 3.0, 0.5)),
        "trumpet": (between("attack", 0.02, 0.15), above("brightness", 2000.0), rich, PITCHED, above("pitch", 55.0)),
        "tuba": (between("attack", 0.02, 0.2), below("pitch", 45.0), above("richness", 3.0), PITCHED),
        "sax": (between("attack", 0.02, 0.15), rich, between("pitch", 48.0, 76.0), above("noisiness", 0.02, 0.5)),
        "saxophone": (between("attack", 0.02, 0.15), rich, between("pitch", 48.0, 76.0)),
        "clarinet": (between("attack", 0.02, 0.15), between("richness", 1.6, 3.5), between("pitch", 50.0, 80.0),
                     pure),
        "oboe": (between("attack", 0.02, 0.15), rich, between("pitch", 58.0, 84.0), pure),
        "cello": (between("attack", 0.05, 0.3), rich, between("pitch", 36.0, 60.0), long_, PITCHED),
        "bass guitar": (sharp_attack, below("pitch", 45.0), between("decay", 0.3, 1.5), PITCHED, ENDS),
        "synth bass": (below("pitch", 45.0), above("richness", 3.0), PITCHED, below("attack", 0.02)),
        "didgeridoo": (below("pitch", 45.0), long_, above("roughness", 3.0), above("richness", 3.0), keeps),
        "bagpipe": (between("pitch", 60.0, 80.0), rich, long_, no_wobble(), keeps),
        "accordion": (rich, long_, above("roughness", 2.0), PITCHED),
        "harmonica": (between("pitch", 60.0, 84.0), above("richness", 2.5), above("noisiness", 0.02, 0.5), PITCHED),
        "kazoo": (above("roughness", 4.0), above("richness", 4.0), between("pitch", 55.0, 76.0), PITCHED),
        "theremin": (*words["vibrato"], pure, long_, below("richness", 1.5)),
        "ocarina": (above("pitch", 67.0), pure, below("richness", 1.5), above("attack", 0.02)),
        "recorder": (above("pitch", 67.0), between("noisiness", 0.02, 0.15), below("richness", 2.0)),
        "choir": (above("attack", 0.2), long_, between("vibrato_depth", 0.1, 1.0), PITCHED),
        "stab": (below("attack", 0.01), between("length", 0.1, 0.4), rich, PITCHED),
        "arp": (between("tremolo_rate", 4.0, 16.0), above("tremolo_depth", 10.0), PITCHED),
        # timbre
        "rich": (rich,), "full": (above("richness", 3.0),), "lush": (rich, long_, above("attack", 0.1)),
        "simple": (simple,), "plain": (simple, pure), "sine": (below("richness", 1.2), pure, PITCHED),
        "sine wave": (below("richness", 1.2), pure, PITCHED), "sinewave": (below("richness", 1.2), pure, PITCHED),
        "square": (between("richness", 1.8, 3.2), PITCHED), "square wave": (between("richness", 1.8, 3.2), PITCHED),
        "saw": (above("richness", 4.0), PITCHED), "sawtooth": (above("richness", 4.0), PITCHED),
        "saw wave": (above("richness", 4.0), PITCHED),
        "harmonic": (below("inharmonicity", 0.02), PITCHED), "inharmonic": (above("inharmonicity", 0.05),),
        "clangorous": (above("inharmonicity", 0.05), above("brightness", 1500.0)),
        "sparkly": (above("brightness", 5000.0), above("tremolo_depth", 2.0, 0.5), above("pitch", 76.0, 0.5)),
        "sparkling": (above("brightness", 5000.0), above("pitch", 76.0, 0.5)),
        "shiny": (above("brightness", 4000.0), pure), "glittery": (above("brightness", 5000.0), above("pitch", 79.0)),
        "crystal": (above("pitch", 76.0), pure, ENDS, bell_partials),
        "crystalline": (above("pitch", 76.0), pure, ENDS, bell_partials),
        "icy": (above("brightness", 3500.0), pure, above("pitch", 72.0)),
        "silky": (smooth, pure, between("brightness", 600.0, 2500.0)),
        "velvety": (smooth, pure, below("brightness", 1500.0)),
        "round": (below("brightness", 1200.0), simple),
        "rounded": (below("brightness", 1200.0), below("richness", 2.0)),
        "murky": (below("brightness", 600.0), below("pitch", 50.0)), "muddy": (below("brightness", 700.0), low),
        "boomy": (below("pitch", 45.0), below("brightness", 600.0), above("decay", 0.3)),
        "booming": (below("pitch", 45.0), below("brightness", 600.0), above("decay", 0.3), loud),
        "bassy": (below("pitch", 43.0), PITCHED), "trebly": (above("brightness", 3500.0),),
        "nasal": (between("brightness", 1000.0, 3000.0), above("richness", 3.0)),
        "tinny": (above("brightness", 2500.0), above("pitch", 67.0), below("decay", 0.6)),
        "reedy": (between("richness", 1.8, 4.0), pure, PITCHED),
        "crunchy": (above("roughness", 5.0), above("noisiness", 0.08)),
        "grainy": (above("noisiness", 0.1), above("roughness", 3.0)),
        "dusty": (above("noisiness", 0.08), below("brightness", 3000.0)),
        "woody": (between("brightness", 500.0, 2000.0), below("decay", 0.4), sharp_attack, ENDS),
        "watery": (above("vibrato_depth", 0.5), above("glide", 2.0, 0.5), pure),
        "liquid": (above("vibrato_depth", 0.5), pure, smooth), "bubbly": (above("glide", 3.0), short, pure),
        "underwater": (dark, *wobble),
        "phat": (below("pitch", 55.0), rich, above("roughness", 2.0, 0.5)),
        "beefy": (below("pitch", 50.0), rich, loud), "meaty": (below("pitch", 55.0), rich),
        "chunky": (below("pitch", 55.0), rich, below("decay", 0.6)),
        "tinkly": (above("pitch", 84.0), ENDS, pure, short), "tinkling": (above("pitch", 84.0), ENDS, pure),
        "twinkle": (above("pitch", 84.0), ENDS, pure, above("tremolo_depth", 2.0, 0.5)),
        "twinkly": (above("pitch", 84.0), ENDS, pure),
        "jingle": (above("noisiness", 0.1), above("brightness", 5000.0), between("length", 0.1, 0.8)),
        "jangly": (above("brightness", 3000.0), above("roughness", 3.0), rich),
        # movement and change
        "evolving": (moving, long_), "morphing": (moving, long_), "moving": (moving,), "changing": (moving,),
        "opening": (moving, above("attack", 0.1)),
        "unchanging": (*still, keeps), "constant": (*still, long_, keeps), "continuous": (long_, keeps),
        "endless": (long_, keeps), "infinite": (long_, keeps), "held": (sustained, long_, keeps),
        "sustaining": (sustained, long_, keeps), "static tone": (*still, PITCHED, long_, keeps),
        "wavy": wobble, "wiggly": wobble, "wah wah": (moving, PITCHED),
        "vibrating": (between("tremolo_rate", 6.0, 20.0), above("tremolo_depth", 3.0)),
        "quivering": (between("vibrato_rate", 5.0, 10.0), between("vibrato_depth", 0.2, 1.5), PITCHED),
        "shaky": (between("vibrato_rate", 4.0, 10.0), above("vibrato_depth", 0.5), PITCHED),
        "shaking": (between("tremolo_rate", 4.0, 12.0), above("tremolo_depth", 4.0)),
        "stutter": (between("tremolo_rate", 6.0, 20.0), above("tremolo_depth", 15.0)),
        "stuttering": (between("tremolo_rate", 6.0, 20.0), above("tremolo_depth", 15.0)),
        "choppy": (between("tremolo_rate", 4.0, 16.0), above("tremolo_depth", 15.0)),
        "gated": (between("tremolo_rate", 2.0, 16.0), above("tremolo_depth", 20.0)),
        "throb": words["throbbing"], "detuned": (between("roughness", 2.0, 8.0), PITCHED),
        "ringing out": (sharp_attack, above("decay", 1.0), ENDS), "dying": (ENDS, between("decay", 0.2, 1.2)),
        "decays": (ENDS, between("decay", 0.2, 1.2)), "ends": (ENDS,),
        # speed, size and level
        "rapid": (below("attack", 0.02), above("tremolo_rate", 8.0, 0.3)), "sudden": (below("attack", 0.005),),
        "abrupt": (below("attack", 0.005), below("decay", 0.2)), "instant": (below("attack", 0.003),),
        "lazy": (slow_attack, below("vibrato_rate", 3.0, 0.3)), "sluggish": (slow_attack,),
        "tight": (sharp_attack, below("decay", 0.2), ENDS), "loose": (between("decay", 0.3, 1.5),),
        "bouncy": (sharp_attack, above("pitch_range", 2.0), below("length", 0.6)),
        "springy": (sharp_attack, above("vibrato_depth", 0.5), below("length", 1.0)),
        "rubbery": (above("pitch_range", 2.0), below("brightness", 1500.0)),
        "clicky": (below("attack", 0.003), above("brightness", 2000.0)),
        "giant": (below("pitch", 40.0), long_, loud), "mini": (above("pitch", 72.0), short),
        "micro": (above("pitch", 84.0), below("length", 0.1)), "deafening": (above("loudness", -3.0), rough),
        "hushed": (below("loudness", -24.0), below("brightness", 1500.0)),
        "muted": (below("loudness", -18.0), below("brightness", 1000.0)),
        # voices' ranges
        "soprano": (between("pitch", 60.0, 81.0), PITCHED), "alto": (between("pitch", 53.0, 77.0), PITCHED),
        "tenor": (between("pitch", 48.0, 69.0), PITCHED), "baritone": (between("pitch", 43.0, 65.0), PITCHED),
        # mood words, as sketches of what they usually sound like
        "dreamy": (slow_attack, long_, pure, between("vibrato_depth", 0.1, 1.0)),
        "ethereal": (slow_attack, long_, pure, above("pitch", 67.0)),
        "ambient": (slow_attack, long_, smooth), "haunting": (slow_attack, long_, pure, *wobble[:2]),
        "ominous": (below("pitch", 43.0), long_, dark), "menacing": (below("pitch", 43.0), rough, dark),
        "creepy": (between("vibrato_rate", 3.0, 8.0), between("vibrato_depth", 0.5, 3.0), slow_attack),
        "scary": (between("vibrato_rate", 3.0, 8.0), above("vibrato_depth", 0.5), below("pitch", 48.0, 0.5)),
        "tense": (above("roughness", 3.0), long_, above("pitch", 60.0)),
        "cheerful": (above("pitch", 72.0), ENDS, below("length", 0.6)),
        "happy": (above("pitch", 72.0), ENDS), "sad": (below("glide", -1.0), slow_attack, pure),
        "mysterious": (slow_attack, long_, between("vibrato_depth", 0.2, 2.0)),
    }
    return {k: v for k, v in new.items() if k not in words}


def _negations() -> dict[str, tuple[Target, ...]]:
    """What "not"/"no"/"without" means for words whose targets are ranges ("no vibrato": a steady pitch)."""
    steady = (below("vibrato_depth", 0.15), below("pitch_range", 1.0, 0.5))
    no_level_wobble = (below("tremolo_depth", 1.5),)
    return {
        "vibrato": steady, "wobble": steady, "wobbly": steady, "warble": steady, "wavering": steady, "trill": steady,
        "siren": (below("pitch_range", 2.0),),
        "glide": (below("pitch_range", 1.0),),
        "slide": (below("pitch_range", 1.0),),
        "bend": (below("pitch_range", 0.5),), "sweep": (below("pitch_range", 3.0),),
        "tremolo": no_level_wobble, "pulsing": no_level_wobble, "throbbing": no_level_wobble,
        "rhythmic": no_level_wobble,
        "flutter": no_level_wobble, "fluttering": no_level_wobble, "trembling": no_level_wobble,
        "shimmer": no_level_wobble, "shimmering": no_level_wobble,
        "noise": (below("noisiness", 0.05),), "noisy": (below("noisiness", 0.05),),
        "pitched": (above("noisiness", 0.25),),
        "tonal": (above("noisiness", 0.25),),
        "pure": (above("noisiness", 0.1),),
        "hum": (above("noisiness", 0.2),), "buzz": (below("roughness", 2.0),),
    }


@lru_cache(maxsize=1)
def negations() -> dict[str, tuple[Target, ...]]:
    """Lexicon entries whose negation is spelled out (see :func:`_negations`); others flip one-sided targets."""
    return _negations()


MODIFIERS = {
    "very": "very", "really": "very", "extremely": "very", "super": "very", "ultra": "very", "highly": "very",
    "so": "very",
    "slightly": "slightly", "somewhat": "slightly", "bit": "slightly", "little": "slightly", "mildly": "slightly",
    "fairly": "slightly", "kinda": "slightly", "rather": "slightly", "kind of": "slightly", "sort of": "slightly",
    "a bit": "slightly", "a little": "slightly",
    "not": "not", "no": "not", "non": "not", "without": "not", "never": "not", "un": "not", "isn't": "not",
}
STOPWORDS = frozenset("""a an the of and with sound sounds sounding like in on from that this is are some synth
synthesizer tone tones for to at as my it its by or but into something thing kind sort please make me give one
type which has having have made played playing""".split())
MAX_PHRASE_WORDS = 3


@lru_cache(maxsize=1)
def lexicon() -> dict[str, tuple[Target, ...]]:
    """Every known word or phrase (lower case, words separated by one space) → its targets."""
    return _lexicon()


# ----------------------------------------------------------------------------------------------
# Reading a prompt
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Understood:
    """One recognized piece of a prompt: the words as typed, the lexicon entry, a modifier, its targets."""

    text: str
    entry: str
    modifier: str | None
    targets: tuple[Target, ...]
    note: str = ""  # e.g. why a modifier was ignored


@dataclass(frozen=True)
class Reading:
    """What the descriptor scorer made of a prompt: recognized pieces and unknown words, in prompt order."""

    prompt: str
    pieces: tuple[Understood | str, ...]  # an Understood, or an unknown word
    ignored: tuple[str, ...] = field(default=())  # stopwords, for completeness

    @property
    def understood(self) -> tuple[Understood, ...]:
        return tuple(p for p in self.pieces if isinstance(p, Understood))

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(p for p in self.pieces if isinstance(p, str))

    @property
    def targets(self) -> list[Target]:
        return [t for u in self.understood for t in u.targets]


def tokenize(prompt: str) -> list[str]:
    """Lower-case words of a prompt: letters, digits and apostrophes; hyphens and punctuation split words."""
    return re.findall(r"[a-z0-9']+", prompt.lower().replace("’", "'"))


def _word_forms(word: str) -> list[str]:
    """The word, then plausible base forms: buzzing → buzz, humming → hum, bells → bell, brighter → bright."""
    forms = [word]
    for suffix, replacements in (("ing", ("", "e")), ("ed", ("", "e")), ("es", ("",)), ("s", ("",)), ("er", ("", "e")),
                                 ("est", ("", "e")), ("ly", ("",)), ("y", ("", "e")), ("ish", ("",))):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            forms += [stem + r for r in replacements]
            if len(stem) >= 2 and stem[-1] == stem[-2]:  # doubled consonant: humming, thinner
                forms.append(stem[:-1])
    return forms


def _lookup(words: list[str]) -> str | None:
    """The lexicon entry matching these words (the last word may be inflected), or None."""
    table = lexicon()
    for last in _word_forms(words[-1]):
        key = " ".join(words[:-1] + [last])
        if key in table:
            return key
    return None


def apply_modifier(target: Target, modifier: str | None) -> Target | None:
    """A target changed by a modifier ("very", "slightly", "not"); None when the modifier cannot apply to it.

    very: a one-sided threshold moves one step (:data:`STEPS`) further out. slightly: it moves half a step
    back and a cap half a step beyond the original bounds the other side. not: a one-sided target flips
    to the other side, a quarter step away. Two-sided ranges keep their bounds under very/slightly and
    cannot be negated.
    """
    if modifier is None:
        return target
    if isinstance(target, AnyOf):  # "very metallic": each alternative moves; "not (A or B)" is not offered
        if modifier == "not":
            return None
        return AnyOf(tuple(apply_modifier(o, modifier) for o in target.options))
    multiplicative, step = STEPS[target.descriptor]
    move = (lambda v, k: v * step ** k) if multiplicative else (lambda v, k: v + step * k)  # noqa: E731
    lower_bound = not math.isinf(target.lo)
    if modifier == "very":
        if not target.one_sided:
            return replace(target, weight=target.weight * 1.25)
        return replace(target, lo=move(target.lo, 1)) if lower_bound else replace(target, hi=move(target.hi, -1))
    if modifier == "slightly":
        if not target.one_sided:
            return replace(target, weight=target.weight * 0.75)
        if lower_bound:
            return Target(target.descriptor, move(target.lo, -0.5), move(target.lo, 0.5), target.weight * 0.75)
        return Target(target.descriptor, move(target.hi, -0.5), move(target.hi, 0.5), target.weight * 0.75)
    if modifier == "not":
        if not target.one_sided:
            return None
        if lower_bound:
            return Target(target.descriptor, -INF, move(target.lo, -0.25), target.weight)
        return Target(target.descriptor, move(target.hi, 0.25), INF, target.weight)
    raise ValueError(f"unknown modifier {modifier!r}")


def _clamp_times(target: Target, duration: float) -> Target:
    """Keep time thresholds reachable in a buffer of ``duration`` seconds ("long" in a 1 s buffer is ≥ 0.9 s)."""
    if isinstance(target, AnyOf):
        return AnyOf(tuple(_clamp_times(o, duration) for o in target.options))
    if target.descriptor not in TIME_DESCRIPTORS:
        return target
    ceiling = 0.9 * duration
    lo = min(target.lo, ceiling)
    hi = target.hi if math.isinf(target.hi) else max(min(target.hi, duration), lo)
    return replace(target, lo=lo, hi=hi)


def read_prompt(prompt: str, duration: float = 2.0) -> Reading:
    """Read a prompt through the lexicon: phrases first (longest match), modifiers attach to the next entry.

    Unknown words are collected (and explained), never an error here; see :func:`prompt_terms`.
    """
    text = check_prompt(prompt)
    words = tokenize(text)
    pieces: list[Understood | str] = []
    ignored: list[str] = []
    modifier: str | None = None
    modifier_text = ""
    i = 0
    while i < len(words):
        match = None
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            phrase = words[i:i + n]
            key = " ".join(phrase)
            if key in MODIFIERS and _lookup(phrase) is None:
                match = ("modifier", n, MODIFIERS[key])
                break
            entry = _lookup(phrase)
            if entry is not None:
                match = ("entry", n, entry)
                break
        if match is None:
            (ignored if words[i] in STOPWORDS else pieces).append(words[i])
            i += 1
            continue
        kind, n, value = match
        typed = " ".join(words[i:i + n])
        i += n
        if kind == "modifier":
            # "not very bright": keep the stronger reading of stacked modifiers, "not" wins over intensity.
            modifier = "not" if "not" in (modifier, value) else value
            modifier_text = f"{modifier_text} {typed}".strip()
            continue
        targets, dropped = [], 0
        if modifier == "not" and value in negations():
            targets = [_clamp_times(t, duration) for t in negations()[value]]
        for target in (() if modifier == "not" and value in negations() else lexicon()[value]):
            changed = apply_modifier(target, modifier)
            if changed is None:
                dropped += 1
            else:
                targets.append(_clamp_times(changed, duration))
        note = f"'{modifier_text}' does not apply to {dropped} of its targets" if dropped else ""
        shown = f"{modifier_text} {typed}" if modifier else typed
        pieces.append(Understood(shown, value, modifier, tuple(targets), note))
        modifier, modifier_text = None, ""
    if modifier is not None:
        pieces.append(modifier_text)  # a dangling "very" modifies nothing
    return Reading(text, tuple(pieces), tuple(ignored))


# ----------------------------------------------------------------------------------------------
# Explaining
# ----------------------------------------------------------------------------------------------
def format_value(descriptor: str, value: float) -> str:
    """A threshold in the words people read: C3 (131 Hz), 3 kHz, 10 ms, 0.3 s, +7 st, 6 dB, 0.25."""
    unit = next(d.unit for d in QUALITIES if d.name == descriptor)
    if unit == "MIDI":
        return f"{note_name(value)} ({midi_to_hz(value):.0f} Hz)"
    if unit == "Hz":
        return f"{value / 1000:.3g} kHz" if value >= 1000 else f"{value:.3g} Hz"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if value < 0.1 else f"{value:.3g} s"
    if unit == "st":
        return f"{value:+.3g} st" if descriptor == "glide" else f"{value:.3g} st"
    if unit == "dB":
        return f"{value:.3g} dB"
    if unit == "oct":
        return f"{value:.2g} oct"
    return f"{value:.3g}"


def describe_target(target: Target) -> str:
    """One target in words: ``brightness > 3 kHz``, ``length 0.1–0.4 s``, ``pitched``."""
    if isinstance(target, AnyOf):
        return "(" + " or ".join(describe_target(o) for o in target.options) + ")"
    d = target.descriptor
    if math.isinf(target.lo) and math.isinf(target.hi):
        return "pitched" if d == "pitch" else f"has {d}"
    if math.isinf(target.hi):
        return f"{d} > {format_value(d, target.lo)}"
    if math.isinf(target.lo):
        return f"{d} < {format_value(d, target.hi)}"
    return f"{d} {format_value(d, target.lo)} to {format_value(d, target.hi)}"


def explain_reading(reading: Reading) -> str:
    """``bright → brightness > 3 kHz; short → length < 0.3 s; 'glorp' unknown`` (or what nothing matched).

    A word or phrase the prompt repeats is explained once, with how often it came (``zap (×10) → …``)."""
    parts: dict[str, int] = {}  # explanation → times seen, in the order first seen
    for piece in reading.pieces:
        if isinstance(piece, str):
            key = f"'{piece}'\0 unknown"
        else:
            described = ", ".join(describe_target(t) for t in piece.targets) or "nothing"
            key = f"{piece.text}\0 → {described}" + (f" ({piece.note})" if piece.note else "")
        parts[key] = parts.get(key, 0) + 1
    shown = [key.replace("\0", f" (×{count})" if count > 1 else "") for key, count in parts.items()]
    if not reading.understood:
        shown.append("no sound words recognized")
    return "; ".join(shown)


def explain(prompt: str, duration: float = 2.0) -> str:
    """What the descriptor scorer understands of ``prompt``, one line (see :func:`explain_reading`)."""
    return explain_reading(read_prompt(prompt, duration))


def known_words() -> list[str]:
    """Every word and phrase of the lexicon, sorted (for help texts and the UI's examples)."""
    return sorted(lexicon())


def prompt_terms(prompt: str, duration: float = 2.0) -> tuple[Terms, Reading]:
    """Terms for a prompt (plus the reading behind them); :class:`PromptError` when no word is recognized."""
    reading = read_prompt(prompt, duration)
    targets = reading.targets
    if not targets:
        examples = ", ".join(("bright", "low", "short", "noisy", "pluck", "siren", "hiss", "drone"))
        raise PromptError(f"the descriptor scorer recognizes no sound word in '{reading.prompt}' "
                          f"({explain_reading(reading)}); try words like {examples}")
    if needs_clean_ending(reading):
        targets = targets + [CLEAN_ENDING]
    rows: list[tuple] = []
    for k, target in enumerate(targets):
        options = target.options if isinstance(target, AnyOf) else (target,)
        if len(rows) + len(options) > MAX_TERMS:
            break  # later words past the slots are cut
        rows += [(o.descriptor, o.lo, o.hi, o.weight, k) for o in options]
    return make_terms(rows, MAX_TERMS), reading


def needs_clean_ending(reading: Reading) -> bool:
    """Whether a prompt's sound should die away inside the buffer (no click where the buffer cuts it): yes unless
    its words say something about the ending themselves ("drone", "hum", "sustained" ask for a sound that keeps
    going; "bell" and "pluck" already ask for it to end)."""
    return bool(reading.understood) and not any(t.descriptor == "end_level" for t in reading.targets)


def unknown_text(reading: Reading) -> str:
    """``Not understood (ignored): 'glorp', 'blorb'`` — or ``""`` when every word was read."""
    unknown = list(dict.fromkeys(reading.unknown))
    return ("Not understood (ignored): " + ", ".join(f"'{w}'" for w in unknown)) if unknown else ""


# ----------------------------------------------------------------------------------------------
# The scorer
# ----------------------------------------------------------------------------------------------
def fit_from_violation(violation):
    """Mean violation ``[B]`` (units) → fit in (0, 1]: 1 when every target is met, 1/e at one unit off."""
    return jnp.exp(-violation)


def descriptor_scores(profile, terms: Terms):
    """Profile ``[B, D]`` + prompt terms → fit ``[B]`` in (0, 1]. Traceable (terms may hold jnp arrays).

    Sounds quieter than ``AUDIBLE_FLOOR_DB`` lose fit with every 6 dB below it (silence: ~1e-6), so a search
    never settles on silence.
    """
    return fit_from_violation(weighted_mean_violation(profile, terms) + inaudibility(profile))


@lru_cache(maxsize=16)
def _scores_fn(sample_rate: int, num_samples: int):
    profile_of = profiler(sample_rate, num_samples)
    return jax.jit(lambda audio, terms: descriptor_scores(profile_of(audio), terms))


class DescriptorScorer:
    """The offline scorer (see the module docstring). Stateless apart from caches; safe to share."""

    name = "descriptors"
    semantic = True
    score_floor = None
    # Capabilities (see studio.scoring.base.Scorer)
    jittable = True  # descriptor_scores is pure JAX: a search compiles it into its program
    score_range = (0.0, 1.0)
    explains_prompt = True  # explain(); a hard constraint replaces the prompt's targets on its descriptor
    budget_family = "fast"  # milliseconds per sound

    def __init__(self, reason: str = "descriptor scorer chosen", headline: str = ""):
        self.reason = reason
        self.label = "descriptors (offline)"
        self.headline = headline or "Offline word scorer"  # one line for the UI (see factory.scorer_headline)

    def terms(self, prompt: str, settings: RenderSettings = RenderSettings()) -> Terms:
        """Jittable targets for a prompt (see :func:`prompt_terms`)."""
        return prompt_terms(prompt, settings.duration)[0]

    def explain(self, prompt: str, duration: float = 2.0) -> str:
        """What this scorer understands of ``prompt`` for sounds ``duration`` seconds long (:func:`explain`), plus
        the ending it prefers when the words leave it open."""
        reading = read_prompt(prompt, duration)
        text = explain_reading(reading)
        if needs_clean_ending(reading):
            text += f"; preferred: ends inside the buffer ({describe_target(CLEAN_ENDING)})"
        return text

    def score(self, audio, sample_rate: int, prompt: str) -> np.ndarray:
        """Fit in (0, 1] ``[B]`` of audio ``[B, T]`` (or ``[T]`` → ``[1]``) at ``sample_rate`` to the prompt."""
        batch = jnp.atleast_2d(jnp.asarray(audio, jnp.float32))
        terms, _ = prompt_terms(prompt, batch.shape[-1] / sample_rate)
        return np.asarray(_scores_fn(int(sample_rate), int(batch.shape[-1]))(batch, terms))

