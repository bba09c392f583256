"""The prompt panel: type a prompt, hear the synth (CTAG's search, issue 5).

Wiring only: the scorers live in ``studio.scoring``, the search loop in ``studio.search``, pictures in
``studio.plots``. The scorer is made once per process in a background thread (:func:`start_scorer`; CLAP when its
weights load here, else the offline descriptor scorer) and its badge says which one judges and why. A search
streams its best-so-far sound, spectrogram and score curve a few times a second; Cancel stops it within one
generation and keeps what it found. Each session keeps its results (newest first) in a ``gr.State``; "Open in
synth" loads one into the player and every knob (undoable), "Save to library" saves it with its prompt. The
shared lock checkboxes apply: locked knobs keep the current sound's values.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from studio import plots
from studio.explore import lock_mask
from studio.scoring import Constraints, Objective, ScorerUnavailable, check_prompt
from studio.search import STRATEGIES, STRATEGY_LABELS, budget_for, search, to_preset
from studio.ui import state as st
from studio.ui.common import RENDER_GROUP, Studio, sound_outputs, user_errors
from studio.ui.jobs import (CancelFlags, chosen_entry, open_in_synth, preview, preview_entry, result_controls,
                             save_named, session_id, streamed_user_errors, whole_number)
from studio.ui.library_panel import saved_outputs
from studio.ui.views import render_audio

log = logging.getLogger(__name__)

EXAMPLES = ("short bright pluck", "low dark hum", "rising siren", "dog bark", "airy whoosh", "metallic bell",
            "wobbly bass drone", "laser zap", "gentle warm pad", "noisy snare")
BUDGETS = ("quick", "standard", "paper")
UPDATE_INTERVAL_S = 0.2  # at most ~5 streamed updates a second: the browser keeps up, the search barely pauses
DEFAULT_RESTARTS = 3  # three seeds: a short results list to choose from (a quick descriptor search is ~0.2 s each)
MAX_RESTARTS = 8
MAX_RESULTS = 24  # results kept per session, newest first
SCORER_WAIT_S = 300.0  # CLAP may still be loading its weights when the first prompt arrives
LOADING_BADGE = ("**Scorer: loading…** CLAP if its weights are here, otherwise the offline descriptor scorer; "
                 "this line says which, and why, in a moment.")


# ---------------------------------------------------------------------------------------------------------------
# The scorer: made once per process, in the background


@dataclass
class _Loading:
    kind: str
    ready: threading.Event = field(default_factory=threading.Event)  # the scorer (or its error) is there
    warm: threading.Event = field(default_factory=threading.Event)  # the quick search program is compiled
    scorer: object = None
    error: Exception | None = None


_loads: dict[str, _Loading] = {}
_active: str | None = None
_load_lock = threading.Lock()


def start_scorer(kind: str = "auto", warm: bool = True) -> None:
    """Make the prompt panel's scorer in a background thread (``make_scorer(kind)``), then compile the quick search
    for it (``studio.search.warm_up``) so the first prompt answers at once; also turns on JAX's compilation cache.

    Call it at app start. Idempotent per kind; a call with another kind makes that the panel's scorer (tests).
    """
    global _active
    with _load_lock:
        _active = kind
        if kind in _loads:
            return
        loading = _loads[kind] = _Loading(kind)
    threading.Thread(target=_load_scorer, args=(loading, warm), name=f"prompt-scorer-{kind}", daemon=True).start()


def _load_scorer(loading: _Loading, warm: bool) -> None:
    from studio.scoring import make_scorer
    from studio.search import use_compilation_cache, warm_up
    from studio.ui.views import wait_for_warm_up

    try:
        use_compilation_cache()
        loading.scorer = make_scorer(loading.kind)
    except Exception as err:  # ScorerUnavailable ("clap" without weights), or anything unexpected
        log.warning("prompt scorer %s unavailable: %s", loading.kind, err)
        loading.error = err
    finally:
        loading.ready.set()
    try:
        if warm and loading.scorer is not None:
            wait_for_warm_up()  # the synth's own warm-up first: two compilations at once only contend
            warm_up(loading.scorer)
    except Exception:  # never fatal: the first search just compiles itself
        log.exception("prompt search warm-up failed")
    finally:
        loading.warm.set()


def _loading() -> _Loading:
    if _active is None:
        start_scorer()
    return _loads[_active]


def current_scorer(timeout: float | None = SCORER_WAIT_S):
    """The panel's scorer, waiting for it to load; :class:`ScorerUnavailable` if it cannot be had."""
    loading = _loading()
    if not loading.ready.wait(timeout):
        raise ScorerUnavailable("the scorer is still loading; try again in a minute")
    if loading.scorer is None:
        raise ScorerUnavailable(str(loading.error))
    return loading.scorer


def scorer_badge(scorer) -> str:
    """The badge under the prompt box: which scorer judges, why, and what that means, in plain words."""
    reason = _code_names(str(scorer.reason).strip().rstrip("."))
    text = f"**Scorer: {scorer.label}** — {reason}."
    if scorer.name == "descriptors":
        text += (" It reads your prompt through a list of sound words and judges each sound on what it measures: "
                 "pitch, brightness, noisiness, envelope and modulation. Results are sketches.")
    if not getattr(scorer, "semantic", True):
        text += " ⚠ **Random weights: its scores mean nothing about the prompt.**"
    return text


def _code_names(text: str) -> str:
    """Environment variables (``SYNTH_STUDIO_CLAP``) as code, so Markdown shows them as written."""
    return re.sub(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", r"`\1`", text)


def badge_now() -> str:
    """The badge for the page as it loads: the scorer's, once ready (waits for it)."""
    try:
        return scorer_badge(current_scorer())
    except ScorerUnavailable as err:
        return f"**Scorer: unavailable** — {_code_names(str(err))}"


# ---------------------------------------------------------------------------------------------------------------
# Per-session results and cancel requests


@dataclass(frozen=True)
class PromptResult:
    """One found sound in a session's results list."""

    key: str  # the results radio's value
    label: str
    preset: object  # Preset with the prompt
    score: float


SEARCHES = CancelFlags()  # one stop flag per session for its running prompt search
request_cancel = SEARCHES.request
forget_session = SEARCHES.forget


# ---------------------------------------------------------------------------------------------------------------
# Handlers (module level, so tests call them directly)


def _curve(curves, generations: int, scorer):
    """The score curve image; its x axis grows with the longest restart so far (at least 10 generations, at most
    the budget's), so a search that ends early still fills the picture."""
    bounds = dict(lo=0.0, hi=1.0) if scorer.name == "descriptors" else {}
    longest = max((len(c) for c in curves), default=0)
    return plots.score_curve_image(curves, min(generations, max(longest, 10)), **bounds)


def _score_text(score: float, scorer) -> str:
    note = " (random weights: not meaningful)" if not getattr(scorer, "semantic", True) else ""
    return f"{score:.3f}{note}"


def understood_text(scorer, objective) -> str:
    """What the scorer makes of the prompt (and which constraints hold beside it), for the line under the box."""
    from studio.scoring import explain

    reading = explain(objective.prompt, objective.settings.duration)
    if scorer.name == "descriptors":
        text = f"**Understood:** {reading}"
    else:
        text = f"CLAP judges the prompt's text itself. (Descriptor reading, for reference: {reading})"
    if objective.constraints.active:
        replaced = " — they replace the prompt's targets on those qualities" if scorer.name == "descriptors" else ""
        text += f"  \n**Constraints:** {objective.constraints.describe()}{replaced}"
    return text


def _progress_text(p, scorer, plan, strategy: str, constrained: bool) -> str:
    restart = f" · restart {p.restart + 1} of {p.restarts}" if p.restarts > 1 else ""
    met = (" · constraints met" if p.best_penalty == 0 else " · constraints not met yet") if constrained else ""
    return (f"Searching ({STRATEGY_LABELS[strategy]}, {plan.name} budget): generation {p.generation} of "
            f"{p.generations}{restart} · {p.evaluations} sounds judged · best score "
            f"{_score_text(p.best_score, scorer)}{met} · {p.elapsed_s:.1f} s")


def _result_label(number: int, prompt: str, result, scorer, checks) -> str:
    constraint = ""
    if checks:
        constraint = " · constraints ✓" if all(c.met for c in checks) else " · constraints ✗"
    short = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    return f"{number}. {short} · score {_score_text(result.score, scorer)}{constraint} · seed {result.seed}"


def results_update(results: tuple, value: str | None = None):
    return gr.update(choices=[(r.label, r.key) for r in results], value=value)


def run_prompt_search(prompt, pitch, length, brightness, noisiness, budget, strategy, seed, restarts, locks,
                      state: st.StudioState, results, session: str = "no-session", scorer=None):
    """Search for the prompt and stream the panel's outputs (see :data:`STREAM_OUTPUTS`) as it runs.

    Mistakes (empty prompt, bad note name, NaN, unknown budget, every knob locked) raise ``ValueError`` subclasses
    with a message naming the field, before anything runs. The search uses the current sound's render settings;
    locked knobs keep its values. The last yield adds the results (best first) to the session's list.
    scorer: the panel's own (:func:`current_scorer`, waiting for it to load) unless given.
    """
    results = tuple(results or ())
    text = check_prompt(prompt)
    settings = state.sound.settings
    pitch, length, brightness, noisiness = (v.strip() if isinstance(v, str) else v
                                            for v in (pitch, length, brightness, noisiness))
    constraints = Constraints.from_user(pitch, length, brightness, noisiness, settings.duration)
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}: choose one of {', '.join(BUDGETS)}")
    strategy = strategy or "learned_es"
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    seed = whole_number("seed", seed, 0, 2**31 - 1)
    restarts = whole_number("restarts", restarts, 1, MAX_RESTARTS)
    mask = lock_mask(list(locks or []))
    if mask.all():
        raise ValueError("every knob is locked: unlock at least one group to search")
    cancel = SEARCHES.start(session)
    skip = gr.skip()
    loading = _loading() if scorer is None else None
    if loading is not None and not loading.ready.is_set():
        yield skip, skip, skip, "Loading the scorer (first time only)…", skip, LOADING_BADGE, skip, skip, skip
    scorer = scorer or current_scorer()
    badge = scorer_badge(scorer)
    objective = Objective(scorer, text, settings, constraints)  # reads the prompt: nothing understood → PromptError
    understood = understood_text(scorer, objective)
    plan = budget_for(budget, scorer, constraints.active)
    if loading is not None and not loading.warm.is_set():
        yield skip, skip, skip, "Compiling the search (once per server start)…", understood, badge, skip, skip, skip
        loading.warm.wait(SCORER_WAIT_S)
    progress = search(objective, budget=plan, strategy=strategy, seed=seed, restarts=restarts, locked=mask,
                      theta=state.sound.theta, cancel=cancel)
    yield (skip, skip, _curve([], plan.generations, scorer), f"Searching ({STRATEGY_LABELS[strategy]}, {plan.name} "
           f"budget, {plan.population} sounds per generation)…", understood, badge, skip, skip, skip)

    curves: list[list[float]] = [[] for _ in range(restarts)]
    best_fitness, best_theta, shown = math.inf, None, None
    last = -math.inf
    final = None
    for p in progress:
        if p.done:
            final = p
            break
        curves[p.restart].append(p.best_score)
        if p.best_fitness < best_fitness:  # the best over every restart so far is what plays
            best_fitness, best_theta = p.best_fitness, p.best_theta
        now = time.monotonic()
        if now - last < UPDATE_INTERVAL_S:
            continue
        last = now
        audio, image = skip, skip
        if shown is None or not np.array_equal(shown, best_theta):
            (audio, image), shown = preview(best_theta, settings), best_theta
        report = _progress_text(p, scorer, plan, strategy, constraints.active)
        yield audio, image, _curve(curves, p.generations, scorer), report, skip, skip, skip, skip, skip
    SEARCHES.finish(session, cancel)

    if final is None or not final.results:
        message = "Stopped before the first generation: nothing found." if final is not None and final.cancelled \
            else "The search found nothing."
        yield skip, skip, skip, message, skip, skip, skip, skip, skip
        return
    new = []
    stamp = f"{time.time_ns():x}"
    for rank, result in enumerate(final.results, start=1):
        name = text if rank == 1 else f"{text} #{rank}"
        preset = to_preset(result, objective, strategy=strategy, budget=plan.name, name=name)
        checks = _constraint_checks(preset, constraints)
        label = _result_label(len(new) + 1, text, result, scorer, checks)
        new.append(PromptResult(f"{stamp}-{rank}", label, preset, float(result.score)))
    all_results = (tuple(new) + results)[:MAX_RESULTS]
    best = new[0]
    audio, image = preview(best.preset.theta, settings)
    checks = _constraint_checks(best.preset, constraints)
    verb = "Stopped early; kept the best so far" if final.cancelled else "Done"
    summary = (f"{verb}: {len(new)} result{'s' if len(new) > 1 else ''} in {final.elapsed_s:.1f} s, "
               f"{final.evaluations} sounds judged. Best score {_score_text(best.score, scorer)}.")
    if checks:
        summary += "  \n" + "; ".join(c.text for c in checks)
    yield (audio, image, _curve(curves, final.generations, scorer), summary, skip, skip, all_results,
           results_update(all_results, best.key), best.preset.name)


def _constraint_checks(preset, constraints: Constraints) -> list:
    if not constraints.active:
        return []
    from studio.audio.sound_profile import sound_profile

    audio = render_audio(preset)
    return constraints.check(sound_profile(audio, preset.settings.sample_rate))


def chosen_result(choice, results) -> PromptResult:
    """The result the radio points at; ``ValueError`` when there is none."""
    return chosen_entry(choice, results, "generate a sound first: type a prompt and press Generate")


def preview_result(choice, results) -> tuple:
    """A result picked in the list: its sound and spectrogram in the panel, its name in the save box."""
    return preview_entry(chosen_result(choice, results))


def open_result(choice, results, state: st.StudioState) -> tuple:
    """Load a result into the player and every knob (an undoable change); values for ``sound_outputs``."""
    return open_in_synth(chosen_result(choice, results).preset, state)


def save_result(studio: Studio, choice, results, name, state: st.StudioState, version) -> tuple:
    """Save a result (with its prompt) to the session's library under ``name``; values for ``saved_outputs``."""
    return save_named(studio, state, chosen_result(choice, results).preset, name, version)


# ---------------------------------------------------------------------------------------------------------------
# Layout and events


def build(studio: Studio, initial: st.StudioState) -> dict:
    c = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            c["badge"] = gr.Markdown(LOADING_BADGE, elem_id="prompt-scorer")
            c["prompt"] = gr.Textbox("", label="Prompt", placeholder="describe a sound, e.g. short bright pluck",
                                     max_length=500, lines=1, elem_id="prompt-text")
            with gr.Row():
                c["generate"] = gr.Button("Generate", variant="primary", elem_id="prompt-generate", scale=2)
                c["cancel"] = gr.Button("Cancel", variant="stop", elem_id="prompt-cancel", scale=1)
            gr.Examples([[e] for e in EXAMPLES], inputs=[c["prompt"]], label="Examples", examples_per_page=10)
            c["budget"] = gr.Radio(list(BUDGETS), value="quick", label="Budget", elem_id="prompt-budget",
                                   info="quick: a second or two offline · paper: CTAG's 50 × 300")
            with gr.Accordion("Constraints: hard targets beside the prompt", open=False, elem_id="prompt-constraints"):
                with gr.Row():
                    c["pitch"] = gr.Textbox("", label="Pitch", placeholder="C3, F#2, 220 Hz", max_length=20,
                                            elem_id="prompt-pitch", min_width=100)
                    # Text boxes, not gr.Number: an empty box means "no constraint" (a Number shows 0 instead).
                    c["length"] = gr.Textbox("", label="Length (s)", placeholder="0.5", max_length=20,
                                             elem_id="prompt-length", min_width=100)
                with gr.Row():
                    c["brightness"] = gr.Textbox("", label="Brightness (Hz)", placeholder="1500", max_length=20,
                                                 elem_id="prompt-brightness", min_width=100)
                    c["noisiness"] = gr.Textbox("", label="Noisiness (0–0.6)", placeholder="0.3", max_length=20,
                                                elem_id="prompt-noisiness", min_width=100)
            with gr.Accordion("Advanced: strategy, seed, restarts", open=False, elem_id="prompt-advanced"):
                c["strategy"] = gr.Dropdown([(STRATEGY_LABELS[s] + (" (CTAG's choice)" if s == "learned_es" else ""),
                                              s) for s in STRATEGIES], value="learned_es",
                                            label="Evolution strategy", elem_id="prompt-strategy")
                with gr.Row():
                    c["seed"] = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="prompt-seed",
                                          min_width=100)
                    c["restarts"] = gr.Slider(1, MAX_RESTARTS, value=DEFAULT_RESTARTS, step=1,
                                              label="Restarts (one result each)", elem_id="prompt-restarts")
            gr.Markdown("The locks above apply here too: locked knobs keep the current sound's values. The search "
                        "renders with the current sound's settings (duration, noise seed).",
                        elem_id="prompt-locks-note")
        with gr.Column(scale=3, min_width=360):
            c["understood"] = gr.Markdown("", elem_id="prompt-understood")
            c["progress"] = gr.Markdown("Type a prompt and press Generate.", elem_id="prompt-progress")
            c["audio"] = gr.Audio(None, type="numpy", format="wav", label="Best so far", interactive=False,
                                  autoplay=False, buttons=["download"], elem_id="prompt-audio")
            c["spectrogram"] = gr.Image(None, label="Its spectrogram", format="jpeg", interactive=False, buttons=[],
                                        elem_id="prompt-spectrogram")
            c["curve"] = gr.Image(None, label="Best score per generation (one line per restart)", format="png",
                                  interactive=False, buttons=[], elem_id="prompt-curve")
            result_controls(c, "prompt", "Results (newest first)")
    return c


def stream_outputs(c: dict) -> list:
    """What :func:`run_prompt_search` yields to, in order."""
    return [c["audio"], c["spectrogram"], c["curve"], c["progress"], c["understood"], c["badge"], c["results"],
            c["choice"], c["name"]]


def wire(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    limit = studio.config.render_concurrency
    private = dict(api_visibility="private")
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private")
    locks = studio.locks if studio.locks is not None else gr.State([])

    demo.load(badge_now, None, c["badge"], show_progress="hidden", concurrency_limit=None, **private)

    @streamed_user_errors
    def prompt_search_stream(prompt, pitch, length, brightness, noisiness, budget, strategy, seed, restarts,
                             locked, state, results, request: gr.Request):
        yield from run_prompt_search(prompt, pitch, length, brightness, noisiness, budget, strategy, seed, restarts,
                                     locked, state, results, session_id(request))

    inputs = [c["prompt"], c["pitch"], c["length"], c["brightness"], c["noisiness"], c["budget"], c["strategy"],
              c["seed"], c["restarts"], locks, studio.state, c["results"]]
    # Searches queue on their own (not behind knob renders, which stay responsive); progress shows on the panel.
    searching = dict(concurrency_id="prompt-search", concurrency_limit=limit, api_visibility="private",
                     show_progress="minimal", show_progress_on=[c["progress"]])
    c["generate"].click(prompt_search_stream, inputs, stream_outputs(c), **searching)
    c["prompt"].submit(prompt_search_stream, inputs, stream_outputs(c), **searching)

    def cancel_prompt_search(request: gr.Request):
        request_cancel(session_id(request))

    c["cancel"].click(cancel_prompt_search, None, None, concurrency_limit=None, show_progress="hidden", **private)
    def forget_prompt_session(request: gr.Request):
        forget_session(session_id(request))

    demo.unload(forget_prompt_session)

    @user_errors
    def preview_prompt_result(choice, results):
        return preview_result(choice, results)

    c["choice"].input(preview_prompt_result, [c["choice"], c["results"]], [c["audio"], c["spectrogram"], c["name"]],
                      show_progress="hidden", **render)

    @user_errors
    def open_prompt_result(choice, results, state):
        return open_result(choice, results, state)

    c["open"].click(open_prompt_result, [c["choice"], c["results"], studio.state], sound_outputs(studio),
                    show_progress="minimal", show_progress_on=[studio.audio], **render)

    @user_errors
    def save_prompt_result(choice, results, name, state, version):
        return save_result(studio, choice, results, name, state, version)

    c["save"].click(save_prompt_result, [c["choice"], c["results"], c["name"], studio.state, studio.library_version],
                    saved_outputs(studio), show_progress="hidden", **private)
