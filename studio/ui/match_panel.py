"""The match panel: upload or record a sound, get a preset that reproduces it (issue 6).

Wiring only: decoding and checks live in ``studio.audio.target``, the loss and search in ``studio.search.match``. The
target is read as soon as it arrives (player, spectrogram, measured pitch and note length, or a readable error);
*Match* streams the best sound so far a few times a second beside the target; *Cancel* stops within one
generation and keeps what was found. The A/B player switches between target and match, both played at one
loudness (``studio.audio.loudness.equal_loudness``) so the comparison is fair; the match keeps its own level
everywhere else (its player, the synth, the library). Each session keeps its
matches (newest first); "Open in synth" loads one into the player and every knob (undoable), "Save to library"
stores it. "Vocal sketch" mode takes the target from the microphone: hum, whistle or say the sound. The shared
lock checkboxes apply: locked knobs keep the current sound's values. The match renders with the current sound's
settings (buffer length, noise seed).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio import plots
from studio.audio.loudness import equal_loudness, loudness_db
from studio.audio.target import Target, TargetError, load_target
from studio.background import once, started
from studio.checks import check_choice, check_seed, check_whole
from studio.errors import StudioError
from studio.explore import lock_mask
from studio.search import STRATEGIES, STRATEGY_LABELS
from studio.search.match import MATCH_PLANS, estimate_start, match_plan, match_sound, spectral_convergence, to_preset
from studio.ui import state as st
from studio.ui.common import (RENDER_GROUP, Studio, failed_line, markdown_text, player_audio, sound_outputs,
                              streamed_user_errors, user_errors)
from studio.ui.jobs import (JobRunner, client_of, chosen_entry, listed_results, open_in_synth, preview, preview_entry,
                            result_controls, save_named, session_id)
from studio.ui.library_panel import saved_outputs
from studio.ui.views import render_audio, settled, to_player

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 0.25  # streamed updates at most 4 times a second: the browser keeps up, the search barely pauses
MAX_RESULTS = 24  # matches kept per session, newest first
MAX_RESTARTS = 8
FILE, SKETCH = "file", "sketch"
A_TARGET, B_MATCH = "A: target", "B: match"
# Browsers record the microphone through voice-call processing by default (echo cancellation, noise suppression,
# automatic gain): it fades a steady hum out as "noise" and reshapes every level envelope, so the sketch that arrives
# is not the one performed. The studio's only microphone is the vocal sketch: the page asks for the raw signal.
RAW_MICROPHONE_JS = """() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia || devices.__rawMicrophone) return;
  const original = devices.getUserMedia.bind(devices);
  const raw = {echoCancellation: false, noiseSuppression: false, autoGainControl: false};
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.audio) {
      const asked = constraints.audio === true ? {} : constraints.audio;
      constraints = {...constraints, audio: {...raw, ...asked}};
    }
    return original(constraints);
  };
  devices.__rawMicrophone = true;
}"""
AB_NOTE = ("A/B plays the target and the match at the same loudness, so you compare sound, not level; the match "
           "keeps its own level in its player, in the synth and in the library.")


# ---------------------------------------------------------------------------------------------------------------
# Per-session cancel requests and results


@dataclass(frozen=True)
class MatchEntry:
    """One match in a session's list."""

    key: str  # the results radio's value
    label: str
    preset: object  # Preset (tags: match)
    loss: float


MATCHES = JobRunner(MAX_RESULTS, UPDATE_INTERVAL_S, kind="match")  # every session's matches


# ---------------------------------------------------------------------------------------------------------------
# Handlers (module level, so tests call them directly)


def read_target(path, settings) -> Target:
    """The uploaded or recorded file → a :class:`Target` fitted to ``settings``; ``TargetError`` when unusable."""
    if not path:
        raise TargetError("upload a sound or record one first")
    return load_target(path, settings.sample_rate, settings.duration, name=_display_name(path))


def _display_name(path) -> str:
    from pathlib import Path

    name = Path(str(path)).name
    return "the recording" if name.startswith(("audio", "recording")) and name.endswith(".wav") else name


def target_text(target: Target, guess) -> str:
    """What was read and measured, for the line under the target."""
    return f"**Target:** {markdown_text(target.describe())}.  \n**Measured:** {guess.describe()}."


def show_target(path, state: st.StudioState) -> tuple:
    """A new target arrived: (A/B player audio, target spectrogram, its description). Empty input clears them."""
    if not path:
        return None, None, "Upload a sound or record one, then press Match."
    target = read_target(path, state.sound.settings)
    guess = estimate_start(target.audio, target.sample_rate)
    prepare_match(state.sound.settings)
    a, _ = ab_player(target.audio, None, target.sample_rate)
    return a, plots.spectrogram_image(target.audio, target.sample_rate), target_text(target, guess)


def progress_text(p, plan, strategy: str) -> str:
    """The line beside the target while a match runs."""
    if p.phase == "screen":
        learned = p.learned.startswith("learned starts on")
        where = "judging the inverse model's guesses and the proxy's picks" if learned else "screening random sounds"
    elif p.phase == "polish":
        where = f"polishing the best, generation {p.generation} of {p.generations}"
    else:
        where = (f"{STRATEGY_LABELS[strategy]} restart {p.restart + 1} of {p.restarts}, generation {p.generation} "
                 f"of {p.generations}")
    return (f"Matching ({plan.budget.name} budget): {where} · {p.evaluations} of {p.total_evaluations} sounds "
            f"judged · best loss {p.best_loss:.3f} · {p.elapsed_s:.1f} s")


def match_target(c: dict, path, lock_pitch, lock_length, budget, strategy, seed, restarts, locks,
                 state: st.StudioState, results, session: str = "no-session", client: str | None = None):
    """Match the target, streaming ``{component: value}`` updates of the panel ``c`` (see :func:`stream_outputs`)
    as it runs.

    Mistakes (no target, an unreadable or silent file, a pitch lock on an unpitched sound, every knob locked, bad
    numbers) raise ``StudioError``s with a readable message before anything runs. The match renders with the
    current sound's settings; locked knobs keep its values. The last update adds the matches (best first) to the
    session's list and puts the best in the A/B player's "B".
    """
    MATCHES.check_room(session, client)  # a page's second match is refused before its target is read
    settings = state.sound.settings
    budget = check_choice(budget, MATCH_PLANS, "budget")
    strategy = check_choice(strategy or "learned_es", STRATEGIES, "strategy")
    seed = check_seed(seed)
    restarts = check_whole(restarts, 1, MAX_RESTARTS, "restarts")
    target = read_target(path, settings)
    mask = lock_mask(list(locks or []))
    plan = match_plan(budget, restarts=restarts)

    shown = {"theta": None}

    def show(p) -> dict:
        update = {c["progress"]: progress_text(p, plan, strategy)}
        if shown["theta"] is None or not np.array_equal(shown["theta"], p.best_theta):
            update[c["audio"]], update[c["spectrogram"]] = preview(p.best_theta, settings)
            shown["theta"] = p.best_theta
        return update

    # The job (and its stop flag) starts before the wait for compilation: Cancel pressed meanwhile stops the match
    # before its first sounds are judged.
    with MATCHES.job(session, client=client) as flag:
        # match_sound checks everything (a pitch lock on an unpitched sound…) now; the match runs when iterated
        reports = match_sound(target, settings=settings, budget=plan, strategy=strategy, seed=seed,
                              lock_pitch=bool(lock_pitch), lock_length=bool(lock_length), locked=mask,
                              theta=state.sound.theta, cancel=flag)
        if not (yield from MATCHES.wait_turn(session, flag, lambda line: {c["progress"]: line})):
            yield {c["progress"]: "Stopped before the first sounds were judged: nothing found."}
            return
        yield {c["progress"]: f"Matching ({plan.budget.name} budget, {plan.evaluations} sounds)… the first match of "
                              f"a server compiles the search first (seconds to a minute)"}
        settled(started(warm_up_key(settings)), 300.0)  # a warm-up already compiling the same programs: wait for it
        final = yield from MATCHES.stream(reports, show)
    if final is None or not final.results:
        yield {c["progress"]: "Stopped before the first sounds were judged: nothing found."}
        return
    new = []
    stamp = f"{time.time_ns():x}"
    stem = target.source.rsplit(".", 1)[0] if "." in target.source else target.source
    for rank, result in enumerate(final.results, start=1):
        name = f"match {stem}" if rank == 1 else f"match {stem} #{rank}"
        preset = to_preset(result, target, settings, budget=plan.budget.name, strategy=strategy, name=name)
        label = f"{len(new) + 1}. {name} · loss {result.loss:.3f}"
        new.append(MatchEntry(f"{stamp}-{rank}", label, preset, float(result.loss)))
    all_results = MATCHES.keep(new, results)
    best = new[0]
    audio, image = preview(best.preset.theta, settings)
    match_audio = render_audio(best.preset)
    heard = estimate_start(match_audio, settings.sample_rate)  # the match's pitch as heard (knob + tunings)
    verb = "Stopped early; kept the best so far" if final.cancelled else "Done"
    own_level = loudness_db(match_audio, settings.sample_rate) - loudness_db(target.audio, settings.sample_rate)
    summary = (f"{verb}: {len(new)} distinct match{'es' if len(new) > 1 else ''} in {final.elapsed_s:.1f} s, "
               f"{final.evaluations} sounds judged. Best loss {best.loss:.3f} (random sounds score about 1; the "
               f"first random batch's best was {final.first_loss:.3f}); spectral convergence "
               f"{spectral_convergence(target.audio, match_audio):.2f}. The match measures {heard.describe()}. "
               f"A/B plays both at the same loudness (at its own level the match is {abs(own_level):.1f} dB "
               f"{'louder' if own_level >= 0 else 'quieter'} than the target). {final.learned[:1].upper()}"
               f"{final.learned[1:]}.")
    yield {c["audio"]: audio, c["spectrogram"]: image, c["progress"]: summary, **listed_results(c, all_results, best),
           c["ab"]: B_MATCH, c["ab_audio"]: ab_player(target.audio, match_audio, settings.sample_rate)[1]}


def chosen_result(choice, results) -> MatchEntry:
    """The match the radio points at; ``StudioError`` when there is none."""
    return chosen_entry(choice, results, "match a sound first: upload or record a target and press Match")


def preview_result(choice, results) -> tuple:
    """A match picked in the list: its sound and spectrogram in the panel, its name in the save box."""
    return preview_entry(chosen_result(choice, results))


def ab_player(target_audio, match_audio, sample_rate: int) -> tuple:
    """The A/B player's values (target, match) at one loudness (:func:`equal_loudness`); either may be None."""
    present = [a for a in (target_audio, match_audio) if a is not None]
    leveled = iter(equal_loudness(present, sample_rate)[0])
    return tuple(None if a is None else to_player(next(leveled), sample_rate) for a in (target_audio, match_audio))


def ab_audio(side, path, choice, results, state: st.StudioState):
    """The A/B player's sound: the target as matched (trimmed, fitted, normalized) or the chosen match, the two at
    the same loudness (the match's own level stays in its preset)."""
    if side == A_TARGET and not path:
        raise StudioError("upload a sound or record one first", "target")
    if side == A_TARGET:  # leveled with the chosen match, when there is one
        chosen = next((r for r in results or () if r.key == choice), None)
    else:
        chosen = chosen_result(choice, results)
    settings = chosen.preset.settings if chosen is not None else state.sound.settings
    target = read_target(path, settings).audio if path else None
    match_audio = render_audio(chosen.preset) if chosen is not None else None
    a, b = ab_player(target, match_audio, settings.sample_rate)
    return a if side == A_TARGET else b


def open_result(choice, results, state: st.StudioState) -> tuple:
    """Load a match into the player and every knob (an undoable change); values for ``sound_outputs``."""
    return open_in_synth(chosen_result(choice, results).preset, state)


def save_result(studio: Studio, choice, results, name, state: st.StudioState, version) -> tuple:
    """Save a match to the session's library under ``name``; values for ``saved_outputs``."""
    return save_named(studio, state, chosen_result(choice, results).preset, name, version)


def input_mode(mode):
    """File or vocal sketch: which sources the target box offers, and what it asks for."""
    if mode == SKETCH:
        return gr.update(sources=["microphone"], label="Vocal sketch: hum, whistle or say the sound, then stop",
                         value=None)
    return gr.update(sources=["upload", "microphone"], label="Target: upload a sound or record one", value=None)


# ---------------------------------------------------------------------------------------------------------------
# Warm-up: the first target a server sees starts compiling the quick match (~10–40 s on a 2-core CPU) while its
# person looks at the target; a match started meanwhile waits for it instead of compiling the same programs twice.


def warm_up_key(settings) -> str:
    """The background preparation's key for the quick match compiled for ``settings``."""
    return f"match-warm-up {settings!r}"


def prepare_match(settings):
    """Compile the quick match's programs (screen and search step, nothing locked) for ``settings`` in the
    background, once per settings per process; returns the future (:func:`studio.background.once`)."""
    return once(warm_up_key(settings), lambda: _warm_up(settings))


def _warm_up(settings) -> None:
    from studio.audio.target import prepare_audio
    from studio.search import Budget, use_compilation_cache
    from studio.search.match import MatchPlan
    from studio.ui.views import wait_for_warm_up as wait_for_synth

    use_compilation_cache()
    wait_for_synth()  # the synth's own warm-up first: two compilations at once only contend
    quick = MATCH_PLANS["quick"].budget
    tone = np.sin(2 * np.pi * 220 * np.arange(settings.num_samples) / settings.sample_rate).astype(np.float32)
    target = prepare_audio(tone, settings.sample_rate, settings.sample_rate, settings.num_samples)
    one_generation = MatchPlan(Budget(quick.name, quick.population, 1, quick.std_init, quick.strategy), 1,
                               quick.population)
    for _ in match_sound(target, settings=settings, budget=one_generation, keep=1):
        pass


# ---------------------------------------------------------------------------------------------------------------
# Layout and events


def build(studio: Studio, initial: st.StudioState) -> dict:
    c = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            c["mode"] = gr.Radio([("Sound file or recording", FILE), ("Vocal sketch (microphone)", SKETCH)],
                                 value=FILE, label="Target from", elem_id="match-mode")
            c["target"] = gr.Audio(None, sources=["upload", "microphone"], type="filepath",
                                   label="Target: upload a sound or record one", elem_id="match-target",
                                   buttons=["download"])
            c["target_info"] = gr.Markdown("Upload a sound or record one, then press Match.",
                                           elem_id="match-target-info")
            c["target_spectrogram"] = gr.Image(None, label="Target spectrogram", format="jpeg", interactive=False,
                                               buttons=[], elem_id="match-target-spectrogram")
            with gr.Row():
                c["lock_pitch"] = gr.Checkbox(False, label="Keep the measured pitch", elem_id="match-lock-pitch")
                c["lock_length"] = gr.Checkbox(False, label="Keep the measured note length",
                                               elem_id="match-lock-length")
            c["budget"] = gr.Radio(list(MATCH_PLANS), value="quick", label="Budget", elem_id="match-budget",
                                   info="quick: seconds · standard: about a minute · paper: several minutes")
            with gr.Accordion("Advanced: strategy, seed, restarts", open=False, elem_id="match-advanced"):
                c["strategy"] = gr.Dropdown([(STRATEGY_LABELS[s], s) for s in STRATEGIES], value="learned_es",
                                            label="Evolution strategy", elem_id="match-strategy")
                with gr.Row():
                    c["seed"] = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="match-seed",
                                          min_width=100)
                    c["restarts"] = gr.Slider(1, MAX_RESTARTS, value=MATCH_PLANS["quick"].restarts, step=1,
                                              label="Restarts (distinct matches)", elem_id="match-restarts")
            with gr.Row():
                c["run"] = gr.Button("Match", variant="primary", elem_id="match-run", scale=2)
                c["cancel"] = gr.Button("Cancel", variant="stop", elem_id="match-cancel", scale=1)
            gr.Markdown("The locks above apply here too: locked knobs keep the current sound's values. The match "
                        "renders with the current sound's settings (buffer length, noise seed).", elem_id="match-note")
        with gr.Column(scale=3, min_width=360):
            c["progress"] = gr.Markdown("", elem_id="match-progress")
            c["audio"] = player_audio(None, type="numpy", format="wav", label="Best match so far", interactive=False,
                                  buttons=["download"], elem_id="match-audio")
            c["spectrogram"] = gr.Image(None, label="Its spectrogram", format="jpeg", interactive=False, buttons=[],
                                        elem_id="match-spectrogram")
            with gr.Row(equal_height=True):
                c["ab"] = gr.Radio([A_TARGET, B_MATCH], value=A_TARGET, label="A/B", elem_id="match-ab", scale=1)
                c["ab_audio"] = player_audio(None, type="numpy", format="wav", label="A/B player (same loudness)",
                                         interactive=False, autoplay=True, buttons=["download"],
                                         elem_id="match-ab-audio", scale=3)
            gr.Markdown(AB_NOTE, elem_id="match-ab-note")
            result_controls(c, "match", "Matches (newest first)")
    return c


def stream_outputs(c: dict) -> list:
    """Every component :func:`match_target` may update."""
    return [c["audio"], c["spectrogram"], c["progress"], c["results"], c["choice"], c["name"], c["ab"], c["ab_audio"]]


def failed_match(c: dict, message: str) -> dict:
    """The panel after a match failed: the message in the progress line, the previous best-so-far sound and its
    spectrogram cleared (the results list and the A/B player keep earlier matches)."""
    return {c["progress"]: failed_line(message), c["audio"]: None, c["spectrogram"]: None}


def wire(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    limit = studio.config.render_concurrency
    private = dict(api_visibility="private")
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private")

    demo.load(None, None, None, js=RAW_MICROPHONE_JS)
    c["mode"].change(input_mode, c["mode"], c["target"], **private)
    c["target"].change(user_errors(show_target), [c["target"], studio.state],
                       [c["ab_audio"], c["target_spectrogram"], c["target_info"]], **private)

    @streamed_user_errors(failed=lambda message: failed_match(c, message))
    def match_uploaded_sound(path, lock_pitch, lock_length, budget, strategy, seed, restarts, locks, state, results,
                             request: gr.Request):
        yield from match_target(c, path, lock_pitch, lock_length, budget, strategy, seed, restarts, locks, state,
                                results, session_id(request), client_of(request))

    # Matching holds the CPU for seconds: one at a time (the job gate, jobs.GATE, orders them and refuses at once
    # what a page or the server has no room for), never waiting in Gradio's queue, whose slots renders need.
    c["run"].click(match_uploaded_sound,
                   [c["target"], c["lock_pitch"], c["lock_length"], c["budget"], c["strategy"], c["seed"],
                    c["restarts"], studio.locks, studio.state, c["results"]],
                   stream_outputs(c), concurrency_limit=None,
                   show_progress="hidden", api_visibility="private")  # no pill over the progress text

    def cancel_match(request: gr.Request):
        MATCHES.cancel(session_id(request))

    c["cancel"].click(cancel_match, None, None, queue=False, **private)

    def forget_match_session(request: gr.Request):
        MATCHES.forget(session_id(request))

    demo.unload(forget_match_session)
    c["choice"].input(user_errors(preview_result), [c["choice"], c["results"]],
                      [c["audio"], c["spectrogram"], c["name"]], **render)
    c["ab"].input(user_errors(ab_audio), [c["ab"], c["target"], c["choice"], c["results"], studio.state],
                   c["ab_audio"], **render)
    c["open"].click(user_errors(open_result), [c["choice"], c["results"], studio.state], sound_outputs(studio),
                    **render)
    c["save"].click(user_errors(lambda choice, results, name, state, version: save_result(
        studio, choice, results, name, state, version)),
        [c["choice"], c["results"], c["name"], studio.state, studio.library_version], saved_outputs(studio),
        **render)
