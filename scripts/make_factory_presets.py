"""Write the factory presets in studio/factory_presets/*.yaml from the designs below (human units).

Run from the repository root: ``PYTHONPATH=. python scripts/make_factory_presets.py``. Each design starts
from a neutral patch (every modulation route off, every mixer level 0: silence) and states only what it
needs, with the reason. Remember the Voice's wiring: the oscillators and the noise are heard only through
modulation-matrix routes to their amplifiers (``adsr_1->vco_1_amp`` …), and pitch routes are scaled by the
oscillator's ``mod_depth`` in semitones. The files, not this script, are what the studio ships; rerun it
after changing a design and check the result (``tests/test_factory_presets.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from studio.presets import FACTORY_DIR, Preset, save_preset
from studio.synth import MOD_INPUTS, MOD_OUTPUTS, PARAM_INDEX, RenderSettings, to_normalized

CREATED = "2025-06-01T12:00:00Z"  # fixed, so rerunning the script does not churn the files


def neutral() -> dict[str, float]:
    """A silent starting patch in human units: no routes, mixer closed, plain envelopes and LFOs."""
    h: dict[str, float] = {"keyboard.midi_f0": 60.0, "keyboard.duration": 1.0}
    for env in ("adsr_1", "adsr_2"):
        h.update({f"{env}.attack": 0.005, f"{env}.decay": 0.3, f"{env}.sustain": 0.7, f"{env}.release": 0.3,
                  f"{env}.alpha": 1.0})
    for lfo, shape, hz in (("lfo_1", "sin", 5.0), ("lfo_2", "tri", 0.5)):
        h.update({f"{lfo}.frequency": hz, f"{lfo}.mod_depth": 0.0, f"{lfo}.initial_phase": 0.0})
        h.update({f"{lfo}.{s}": 1.0 if s == shape else 0.0 for s in ("sin", "tri", "saw", "rsaw", "sqr")})
    for env in ("lfo_1_amp_adsr", "lfo_2_amp_adsr", "lfo_1_rate_adsr", "lfo_2_rate_adsr"):
        # Full depth from the start; fades with the note (every ADSR shares the keyboard's note-on time).
        h.update({f"{env}.attack": 0.0, f"{env}.decay": 0.0, f"{env}.sustain": 1.0, f"{env}.release": 0.3,
                  f"{env}.alpha": 1.0})
    h.update({f"mod_matrix.{i}->{o}": 0.0 for i in MOD_INPUTS for o in MOD_OUTPUTS})
    for vco in ("vco_1", "vco_2"):
        h.update({f"{vco}.tuning": 0.0, f"{vco}.mod_depth": 0.0, f"{vco}.initial_phase": 0.0})
    h["vco_2.shape"] = 0.5
    h.update({"mixer.vco_1": 0.0, "mixer.vco_2": 0.0, "mixer.noise": 0.0})
    return h


def route(source: str, target: str) -> str:
    return f"mod_matrix.{source}->{target}"


def adsr(env: str, attack: float, decay: float, sustain: float, release: float, alpha: float = 1.0) -> dict:
    return {f"{env}.attack": attack, f"{env}.decay": decay, f"{env}.sustain": sustain, f"{env}.release": release,
            f"{env}.alpha": alpha}


def lfo(name: str, hz: float, shape: str, phase: float = 0.0) -> dict:
    out = {f"{name}.frequency": hz, f"{name}.initial_phase": phase}
    out.update({f"{name}.{s}": 1.0 if s == shape else 0.0 for s in ("sin", "tri", "saw", "rsaw", "sqr")})
    return out


# Each design: (tags, noise seed, one-line description, human values over the neutral patch).
DESIGNS: dict[str, tuple[tuple[str, ...], int, str, dict]] = {}


def design(name: str, tags: tuple[str, ...], description: str, values: dict, seed: int = 0) -> None:
    DESIGNS[name] = (tags, seed, description, values)


# Basses and tonal instruments ---------------------------------------------------------------------
design("bass", ("bass", "tonal", "mono"), "a punchy synth bass: saw over a sine body with a pitch thump", {
    "keyboard.midi_f0": 36.0, "keyboard.duration": 0.9,  # C2, 65 Hz
    **adsr("adsr_1", 0.004, 0.35, 0.55, 0.2, 1.5),  # amplitude: fast attack, settles to a held body
    **adsr("adsr_2", 0.0, 0.045, 0.0, 0.05, 2.0),  # a 45 ms pitch drop gives the attack its thump
    route("adsr_1", "vco_1_amp"): 1.0, route("adsr_1", "vco_2_amp"): 1.0,
    route("adsr_2", "vco_1_pitch"): 1.0, route("adsr_2", "vco_2_pitch"): 1.0,
    "vco_1.mod_depth": 12.0, "vco_2.mod_depth": 12.0, "vco_2.shape": 0.85,
    "mixer.vco_1": 0.45, "mixer.vco_2": 0.45,
})
design("lead", ("lead", "tonal", "mono"), "a bright saw lead with delayed vibrato", {
    "keyboard.midi_f0": 72.0, "keyboard.duration": 1.5,  # C5
    **adsr("adsr_1", 0.02, 0.25, 0.8, 0.3),
    **lfo("lfo_1", 5.5, "sin"),
    **adsr("lfo_1_amp_adsr", 0.6, 0.0, 1.0, 0.5, 2.0),  # vibrato fades in after the note speaks
    route("adsr_1", "vco_1_amp"): 1.0, route("adsr_1", "vco_2_amp"): 1.0,
    route("lfo_1", "vco_1_pitch"): 1.0, route("lfo_1", "vco_2_pitch"): 1.0,
    "vco_1.tuning": 12.0, "vco_1.mod_depth": 0.6, "vco_2.mod_depth": 0.6, "vco_2.shape": 1.0,
    "mixer.vco_1": 0.25, "mixer.vco_2": 0.6,
})
design("pad", ("pad", "tonal", "slow"), "a slow, soft pad swelling in with a drifting fifth", {
    "keyboard.midi_f0": 57.0, "keyboard.duration": 1.3,  # A3
    **adsr("adsr_1", 0.9, 0.5, 0.85, 0.65, 1.6),  # slow swell and a soft release that ends in the buffer
    **adsr("adsr_2", 0.5, 0.6, 0.9, 0.65),
    **lfo("lfo_1", 0.35, "sin"), **lfo("lfo_2", 3.0, "tri"),
    route("adsr_1", "vco_1_amp"): 1.0, route("adsr_2", "vco_2_amp"): 0.8,
    route("lfo_1", "vco_2_pitch"): 1.0,  # the square-saw drifts a few cents against the sine
    route("lfo_2", "vco_1_amp"): 0.08,  # and a faint shimmer on the sine
    "vco_1.tuning": 7.0, "vco_2.mod_depth": 0.25, "vco_2.shape": 0.35,
    "mixer.vco_1": 0.4, "mixer.vco_2": 0.35,
})
design("pluck", ("pluck", "tonal", "percussive"), "a short square pluck, like a muted guitar or harp", {
    "keyboard.midi_f0": 64.0, "keyboard.duration": 0.35,  # E4
    **adsr("adsr_1", 0.002, 0.3, 0.0, 0.15, 3.0),  # alpha 3: a quick, exponential-like fall
    **adsr("adsr_2", 0.001, 0.08, 0.0, 0.05, 2.0),
    route("adsr_1", "vco_1_amp"): 0.6, route("adsr_2", "vco_2_amp"): 0.6, route("adsr_1", "vco_2_amp"): 0.5,
    "vco_1.tuning": 12.0, "vco_2.shape": 0.15,
    "mixer.vco_1": 0.4, "mixer.vco_2": 0.55,
})
design("bell", ("bell", "tonal", "metallic"), "a bell: a sine with an inharmonic partial, ringing out", {
    "keyboard.midi_f0": 76.0, "keyboard.duration": 1.9,  # E5
    **adsr("adsr_1", 0.001, 1.9, 0.0, 0.05, 3.0),  # the fundamental rings for the whole buffer
    **adsr("adsr_2", 0.001, 0.5, 0.0, 0.5, 3.0),  # the upper partial dies away faster, as in real bells
    **lfo("lfo_1", 2.7, "sin"),
    **adsr("lfo_1_amp_adsr", 0.0, 1.2, 0.0, 0.05, 3.0),  # the beating fades with the ring, never outlasts it
    route("adsr_1", "vco_1_amp"): 0.9, route("lfo_1", "vco_1_amp"): 0.1,  # slow beating
    route("adsr_2", "vco_2_amp"): 1.0,
    "vco_2.tuning": 17.6, "vco_2.shape": 0.0,  # ≈ 2.76 × f0, a classic bell partial ratio
    "mixer.vco_1": 0.6, "mixer.vco_2": 0.18,
})
design("drone", ("drone", "tonal", "sustained"), "a dark drone: a low sine with a hollow, slowly breathing octave", {
    "keyboard.midi_f0": 38.0, "keyboard.duration": 1.6,  # D2
    **adsr("adsr_1", 0.25, 0.0, 1.0, 0.35),
    **adsr("lfo_2_amp_adsr", 0.0, 0.0, 1.0, 0.35),
    **lfo("lfo_2", 0.7, "sin"),
    route("adsr_1", "vco_1_amp"): 1.0, route("lfo_2", "vco_2_amp"): 1.0, route("adsr_1", "vco_2_amp"): 0.2,
    "vco_2.tuning": 12.1, "vco_2.shape": 0.0,  # a square an octave up, 10 cents sharp: it beats against the sine
    "mixer.vco_1": 0.55, "mixer.vco_2": 0.25,
})
design("wobble", ("bass", "wobble", "modulated"), "a wobble bass: low saw gated by a 3 Hz LFO over a sub", {
    "keyboard.midi_f0": 31.0, "keyboard.duration": 1.7,  # G1
    **adsr("adsr_1", 0.01, 0.0, 1.0, 0.2),
    **lfo("lfo_1", 3.0, "sin"),
    route("lfo_1", "vco_2_amp"): 1.0, route("adsr_1", "vco_1_amp"): 0.6,
    route("lfo_1", "vco_2_pitch"): 1.0,
    "vco_2.mod_depth": 2.0, "vco_2.shape": 1.0,
    "mixer.vco_1": 0.5, "mixer.vco_2": 0.55,
})
design("chip_trill", ("lead", "chiptune", "modulated"), "an 8-bit square trilling between a note and its octave", {
    "keyboard.midi_f0": 69.0, "keyboard.duration": 1.6,  # A4
    **adsr("adsr_1", 0.005, 0.1, 0.7, 0.1),
    **lfo("lfo_1", 8.0, "sqr"),
    route("adsr_1", "vco_2_amp"): 1.0, route("lfo_1", "vco_2_pitch"): 1.0,
    "vco_2.mod_depth": 12.0, "vco_2.shape": 0.0,
    "mixer.vco_2": 0.4,
})
# Drums ------------------------------------------------------------------------------------------
design("kick", ("drum", "percussive", "kick"), "a kick drum: a sine swooping down from 330 Hz, with a click", {
    "keyboard.midi_f0": 28.0, "keyboard.duration": 0.3,  # E1, 41 Hz
    **adsr("adsr_1", 0.001, 0.35, 0.0, 0.05, 1.5),
    **adsr("adsr_2", 0.0, 0.09, 0.0, 0.02, 2.5),  # pitch sweep, steepest at the start
    route("adsr_1", "vco_1_amp"): 1.0, route("adsr_2", "vco_1_pitch"): 1.0,
    route("adsr_2", "noise_amp"): 0.3,  # the beater's click
    "vco_1.mod_depth": 36.0,
    "mixer.vco_1": 0.8, "mixer.noise": 0.25,
}, seed=11)
design("snare", ("drum", "percussive", "snare", "noise"), "a noise snare with a short 190 Hz body", {
    "keyboard.midi_f0": 54.5, "keyboard.duration": 0.2,
    **adsr("adsr_1", 0.001, 0.2, 0.0, 0.1, 2.0),  # the rattle of the wires
    **adsr("adsr_2", 0.001, 0.07, 0.0, 0.03, 2.0),  # the drum head
    route("adsr_1", "noise_amp"): 1.0, route("adsr_2", "vco_1_amp"): 1.0, route("adsr_2", "vco_1_pitch"): 1.0,
    "vco_1.mod_depth": 7.0,
    "mixer.vco_1": 0.5, "mixer.noise": 0.5,
}, seed=23)
design("hihat", ("drum", "percussive", "hihat", "noise"), "a closed hi-hat: a tight tick of bright noise", {
    "keyboard.midi_f0": 118.0, "keyboard.duration": 0.04,
    **adsr("adsr_1", 0.0005, 0.06, 0.0, 0.03, 2.5),
    route("adsr_1", "noise_amp"): 1.0, route("adsr_1", "vco_2_amp"): 1.0,
    "vco_2.shape": 0.0,  # a very high square adds the metallic edge
    "mixer.noise": 0.6, "mixer.vco_2": 0.12,
}, seed=37)
# Effects ----------------------------------------------------------------------------------------
design("siren", ("fx", "siren", "modulated"), "a wailing siren sweeping up and down a fifth", {
    "keyboard.midi_f0": 67.0, "keyboard.duration": 1.65,  # G4
    **adsr("adsr_1", 0.08, 0.0, 1.0, 0.3),
    **lfo("lfo_1", 0.9, "sin"),  # starts at the bottom of its sweep, like a siren winding up
    route("adsr_1", "vco_1_amp"): 1.0, route("adsr_1", "vco_2_amp"): 1.0,
    route("lfo_1", "vco_1_pitch"): 1.0, route("lfo_1", "vco_2_pitch"): 1.0,
    "vco_1.mod_depth": 7.0, "vco_2.mod_depth": 7.0, "vco_2.shape": 0.3,
    "mixer.vco_1": 0.45, "mixer.vco_2": 0.3,
})
design("laser", ("fx", "laser", "sweep"), "a laser zap: a saw diving five octaves in a quarter second", {
    "keyboard.midi_f0": 40.0, "keyboard.duration": 0.25,
    **adsr("adsr_1", 0.001, 0.25, 0.2, 0.1),
    **adsr("adsr_2", 0.0, 0.25, 0.0, 0.1, 3.0),
    **lfo("lfo_1", 18.0, "saw"),  # a buzzing flutter on top of the dive
    route("adsr_1", "vco_2_amp"): 1.0, route("adsr_1", "vco_1_amp"): 0.5,
    route("adsr_2", "vco_2_pitch"): 1.0, route("adsr_2", "vco_1_pitch"): 1.0,
    route("lfo_1", "vco_2_pitch"): 0.05,
    "vco_1.mod_depth": 60.0, "vco_2.mod_depth": 60.0, "vco_2.shape": 0.9,
    "mixer.vco_1": 0.35, "mixer.vco_2": 0.5,
})
design("wind", ("fx", "wind", "noise", "ambient"), "wind: gusts of noise with a faint whistle", {
    "keyboard.midi_f0": 86.0, "keyboard.duration": 1.5,
    **adsr("adsr_1", 0.7, 0.0, 1.0, 0.45, 2.0),
    **adsr("lfo_1_amp_adsr", 0.0, 0.0, 1.0, 0.45), **adsr("lfo_2_amp_adsr", 0.0, 0.0, 1.0, 0.45),
    **lfo("lfo_1", 0.8, "sin"), **lfo("lfo_2", 2.1, "tri", 1.0),  # two unrelated rates: irregular gusts
    route("lfo_1", "noise_amp"): 0.7, route("lfo_2", "noise_amp"): 0.25, route("adsr_1", "noise_amp"): 0.2,
    route("lfo_1", "vco_1_amp"): 0.15, route("lfo_2", "vco_1_pitch"): 1.0,  # the whistle bends with the gusts
    "vco_1.mod_depth": 3.0,
    "mixer.noise": 0.5, "mixer.vco_1": 0.25,
}, seed=41)
design("alarm", ("fx", "alarm", "beeping"), "an alarm: urgent square beeps alternating between two pitches", {
    "keyboard.midi_f0": 84.0, "keyboard.duration": 1.8,  # C6
    **adsr("lfo_1_amp_adsr", 0.0, 0.0, 1.0, 0.02),  # the beeps stop at note-off
    **lfo("lfo_1", 6.0, "sqr"), **lfo("lfo_2", 1.5, "sqr"),
    route("lfo_1", "vco_2_amp"): 1.0, route("lfo_2", "vco_2_pitch"): 1.0,
    "vco_2.mod_depth": 5.0, "vco_2.shape": 0.0,
    "mixer.vco_2": 0.35,
})
design("drip", ("fx", "water", "percussive"), "a water drip: a sine blip rising an octave in 40 ms", {
    "keyboard.midi_f0": 76.0, "keyboard.duration": 0.06,
    **adsr("adsr_1", 0.001, 0.15, 0.0, 0.05, 2.0),
    **adsr("adsr_2", 0.04, 0.0, 1.0, 0.1, 0.5),  # pitch rises while the drop falls in
    route("adsr_1", "vco_1_amp"): 1.0, route("adsr_2", "vco_1_pitch"): 1.0,
    "vco_1.mod_depth": 14.0,
    "mixer.vco_1": 0.8,
})
design("engine", ("fx", "engine", "modulated"), "an engine revving: low pulses speeding up, with rumble", {
    "keyboard.midi_f0": 26.0, "keyboard.duration": 1.6,  # D1
    **adsr("adsr_1", 0.05, 0.0, 1.0, 0.3),
    **adsr("lfo_1_amp_adsr", 0.0, 0.0, 1.0, 0.3),
    **adsr("adsr_2", 1.2, 0.3, 0.6, 0.4, 1.5),  # the rev: pitch climbs then eases back
    **lfo("lfo_1", 9.0, "rsaw"),  # cylinder firings
    **adsr("lfo_1_rate_adsr", 1.2, 0.3, 0.6, 0.4, 1.5),
    "lfo_1.mod_depth": 11.0,  # firings speed up with the rev: 9 Hz → 20 Hz
    route("lfo_1", "vco_2_amp"): 0.9, route("lfo_1", "noise_amp"): 0.4, route("adsr_1", "vco_1_amp"): 0.5,
    route("adsr_2", "vco_2_pitch"): 1.0, route("adsr_2", "vco_1_pitch"): 1.0,
    "vco_1.mod_depth": 12.0, "vco_2.mod_depth": 12.0, "vco_2.shape": 0.3,
    "mixer.vco_1": 0.5, "mixer.vco_2": 0.5, "mixer.noise": 0.3,
}, seed=53)
design("riser", ("fx", "riser", "sweep", "noise"), "a riser: noise and a saw climbing two octaves over the buffer", {
    "keyboard.midi_f0": 48.0, "keyboard.duration": 1.9,
    **adsr("adsr_1", 1.8, 0.0, 1.0, 0.1, 2.0),  # swelling towards the drop
    **adsr("adsr_2", 1.9, 0.0, 1.0, 0.1, 1.5),
    route("adsr_1", "noise_amp"): 0.8, route("adsr_1", "vco_2_amp"): 1.0,
    route("adsr_2", "vco_2_pitch"): 1.0,
    "vco_2.mod_depth": 24.0, "vco_2.shape": 1.0,
    "mixer.noise": 0.3, "mixer.vco_2": 0.35,
}, seed=67)


def build(name: str) -> Preset:
    tags, seed, description, values = DESIGNS[name]
    human = neutral()
    unknown = set(values) - set(human)
    if unknown:
        raise KeyError(f"{name}: unknown parameters {sorted(unknown)}")
    human.update(values)
    vector = np.array([human[k] for k in PARAM_INDEX], np.float64)
    theta = np.clip(to_normalized(vector), 0.0, 1.0).astype(np.float32)
    return Preset(name=name, theta=theta, settings=RenderSettings(noise_seed=seed), tags=tags, description=description,
                  created=CREATED)


def main(names: list[str]) -> None:
    for name in names or DESIGNS:
        path = save_preset(build(name), Path(FACTORY_DIR) / f"{name}.yaml")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
