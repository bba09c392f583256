"""Which knobs have no effect on a sound, read from the voice's routing and amounts (no rendering).

The voice (``studio.synth.voice``) sums three channels, ``mixer.vco_1 · amp_1 · osc_1 + mixer.vco_2 · amp_2 ·
osc_2 + mixer.noise · noise_amp · noise``, where each ``amp_k`` and ``pitch_k`` is the modulation matrix's
``Σ_source amount[source → dest] · source``. A knob is *inert* when moving it alone cannot change a sample:

- a channel's fader, while nothing routes to its level (``amp_k`` ≡ 0), and every route to its level while its
  fader is at 0; an oscillator's own knobs while its channel is silent; the keyboard pitch while both oscillators
  are silent; oscillator 1's pitch depth while nothing routes to its pitch (oscillator 2's also sets its band
  limit), and the routes to an oscillator's pitch while its depth is 0;
- every knob of a modulation source (an envelope, or an LFO with its two envelopes) that feeds nothing audible;
  an envelope's decay while its sustain is 1 or its attack fills the note; an LFO's rate envelope while the
  LFO's rate depth is 0;
- the note length while no source is used.

The rule is conservative: a knob it names never changes the audio (``tests/test_inert.py`` renders each one moved);
some knobs it does not name may still do nothing audible (a route from an LFO whose level is 0, say).
"""
from __future__ import annotations

import numpy as np

from studio.synth.params import MOD_INPUTS, MOD_OUTPUTS, PARAM_INDEX, PARAMS, to_human

CHANNELS = {"vco_1": ("vco_1_amp", "vco_1_pitch"), "vco_2": ("vco_2_amp", "vco_2_pitch"), "noise": ("noise_amp", None)}
SOURCE_MODULES = {"adsr_1": ("adsr_1",), "adsr_2": ("adsr_2",),
                  "lfo_1": ("lfo_1", "lfo_1_amp_adsr", "lfo_1_rate_adsr"),
                  "lfo_2": ("lfo_2", "lfo_2_amp_adsr", "lfo_2_rate_adsr")}


def _route(source: str, dest: str) -> int:
    return PARAM_INDEX[f"mod_matrix.{source}->{dest}"]


def inert_knobs(theta) -> frozenset[int]:
    """Indices of the knobs of θ ``[78]`` (normalized) that cannot change the sound when moved alone."""
    human = to_human(np.clip(np.asarray(theta, np.float64), 0.0, 1.0))
    v = lambda key: float(human[PARAM_INDEX[key]])  # noqa: E731
    amount = {(s, d): float(human[_route(s, d)]) for s in MOD_INPUTS for d in MOD_OUTPUTS}
    inert: set[int] = set()

    def routed(dest: str) -> bool:
        return any(amount[s, dest] != 0.0 for s in MOD_INPUTS)

    audible: dict[str, bool] = {}
    for channel, (amp, _) in CHANNELS.items():
        fader = PARAM_INDEX[f"mixer.{channel}"]
        audible[channel] = v(f"mixer.{channel}") != 0.0 and routed(amp)
        if not routed(amp):
            inert.add(fader)
        if human[fader] == 0.0:
            inert.update(_route(s, amp) for s in MOD_INPUTS)
    used_dests = set()  # destinations whose value reaches the audio
    for channel, (amp, pitch) in CHANNELS.items():
        if v(f"mixer.{channel}") != 0.0:
            used_dests.add(amp)
        if pitch is None:
            continue
        osc_knobs = [i for i, p in enumerate(PARAMS) if p.module == channel]
        if not audible[channel]:
            inert.update(osc_knobs)
            inert.update(_route(s, pitch) for s in MOD_INPUTS)
            continue
        if not routed(pitch) and channel == "vco_1":  # vco_2's depth also sets its partial count
            inert.add(PARAM_INDEX[f"{channel}.mod_depth"])
        if v(f"{channel}.mod_depth") == 0.0:
            inert.update(_route(s, pitch) for s in MOD_INPUTS)
        else:
            used_dests.add(pitch)
    if not (audible["vco_1"] or audible["vco_2"]):
        inert.add(PARAM_INDEX["keyboard.midi_f0"])

    any_used = False
    for source, modules in SOURCE_MODULES.items():
        knobs = [i for i, p in enumerate(PARAMS) if p.module in modules]
        if not any(amount[source, d] != 0.0 for d in used_dests):
            inert.update(knobs)
            continue
        any_used = True
        for env in (m for m in modules if m.startswith("adsr") or m.endswith("_adsr")):
            if v(f"{env}.sustain") == 1.0 or v(f"{env}.attack") >= v("keyboard.duration"):
                inert.add(PARAM_INDEX[f"{env}.decay"])  # no decay segment: held at 1, or squeezed out by attack
        if source.startswith("lfo") and v(f"{source}.mod_depth") == 0.0:
            inert.update(i for i, p in enumerate(PARAMS) if p.module == f"{source}_rate_adsr")
    if not any_used:
        inert.add(PARAM_INDEX["keyboard.duration"])
    return frozenset(inert)
