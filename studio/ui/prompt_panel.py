"""The prompt panel: type a prompt, hear the synth (CTAG's search, issue 5).

Wiring only: the scorers live in ``studio.scoring`` (the process's own is :func:`studio.scoring.shared.shared_scorer`:
CLAP when its weights load here, else the offline descriptor scorer), the search loop in ``studio.search``,
pictures in ``studio.plots``; long jobs run through :class:`studio.ui.jobs.JobRunner`. The badge says which scorer
judges and why. A search streams its best-so-far sound, spectrogram and score curve a few times a second; Cancel
stops it within one generation and keeps what it found. Each session keeps its results (newest first) in a
``gr.State``; "Open in synth" loads one into the player and every knob (undoable), "Save to library" saves it with
its prompt. The shared lock checkboxes apply: locked knobs keep the current sound's values.
"""
from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Future
from dataclasses import dataclass

import gradio as gr
import numpy as np

from studio import plots
from studio.background import once, started
from studio.checks import check_choice, check_seed, check_whole
from studio.errors import StudioError
from studio.explore import lock_mask
from studio.scoring import Constraints, ScorerUnavailable
from studio.scoring.base import MAX_PROMPT_CHARS, cut_prompt
from studio.scoring.factory import ENABLE_CLAP, scorer_headline
from studio.scoring.shared import shared_scorer
from studio.search import (BUDGET_NAMES, STRATEGIES, STRATEGY_LABELS, PromptObjective, budget_for, proxy_screened,
                           search, to_preset)
from studio.ui import state as st
from studio.ui.common import (RENDER_GROUP, Studio, failed_line, markdown_text, player_audio, shown_error,
                              sound_outputs, streamed_user_errors, toast_text, user_errors)
from studio.ui.jobs import (JobRunner, client_of, chosen_entry, listed_results, open_in_synth, preview, preview_entry,
                            result_controls, save_named, session_id)
from studio.ui.library_panel import saved_outputs
from studio.ui.views import render_audio, settled, wait_for_warm_up

log = logging.getLogger(__name__)

EXAMPLES = ("short bright pluck", "low dark hum", "rising siren", "dog bark", "airy whoosh", "metallic bell",
            "wobbly bass drone", "laser zap", "gentle warm pad", "noisy snare")
UPDATE_INTERVAL_S = 0.2  # at most ~5 streamed updates a second: the browser keeps up, the search barely pauses
DEFAULT_RESTARTS = 3  # three seeds: a short results list to choose from (a quick descriptor search is ~0.2 s each)
MAX_RESTARTS = 8  # the panel's slider (the engine takes up to 16)
MAX_RESULTS = 24  # results kept per session, newest first
SCORER_WAIT_S = 300.0  # CLAP may still be loading its weights when the first prompt arrives
SEARCH_WARM_UP = "prompt-search-warm-up"  # the background preparation that compiles the quick search
LOADING_BADGE = "Scorer loading… (CLAP if its weights are here, else the offline word scorer)"
NAME_CHARS = 40  # a found sound's name: the prompt's first words, at most this long


# ---------------------------------------------------------------------------------------------------------------
# The scorer: the process's shared one, and the quick search compiled for it in the background


def prepare_prompt_search() -> Future:
    """Start making the shared scorer and then compiling the quick search for it (``studio.search.warm_up``), so
    the first prompt answers at once; also turns on JAX's compilation cache. Call it at app start; once per
    process (later calls return the same preparation)."""
    from studio.search import use_compilation_cache

    use_compilation_cache()
    scorer = shared_scorer()

    def compile_quick_search() -> None:
        from studio.search import warm_up

        made = scorer.result()
        wait_for_warm_up()  # the synth's own warm-up first: two compilations at once only contend
        warm_up(made)

    return once(SEARCH_WARM_UP, compile_quick_search)


def current_scorer(timeout: float | None = SCORER_WAIT_S):
    """The shared scorer, waiting for it to be made; :class:`ScorerUnavailable` when it is still loading after
    ``timeout`` seconds (what stopped it being made is re-raised as it is)."""
    try:
        return shared_scorer().result(timeout)
    except TimeoutError:
        raise ScorerUnavailable("the scorer is still loading; try again in a minute") from None


def scorer_badge(scorer) -> str:
    """The badge above the prompt box: one line saying which scorer judges (and why not CLAP), with a *details*
    toggle that says why, what that means and, without CLAP, how to enable it."""
    reason = _code_names(str(scorer.reason).strip().rstrip("."))
    details = [f"{reason}."]
    if scorer.explains_prompt:
        details.append("The offline word scorer reads your prompt through a list of sound words and judges each "
                       "sound on what it measures: pitch, brightness, noisiness, envelope and modulation. Results "
                       "are sketches.")
        details.append(_code_names(ENABLE_CLAP))
    warning = "" if scorer.semantic else " ⚠ **random weights: its scores mean nothing about the prompt**"
    return badge_line(scorer_headline(scorer) + warning, "\n\n".join(details))


def badge_line(headline: str, details: str) -> str:
    """One line, ``headline (details)``: a closed toggle (an HTML ``<details>``) whose paragraphs ``details`` open
    on a click."""
    return (f"<details class='scorer-details'><summary>{headline} <span class='scorer-more'>(details)</span>"
            f"</summary>\n\n{details}\n\n</details>")


def _code_names(text: str) -> str:
    """Environment variables (``SYNTH_STUDIO_CLAP``) as code, so Markdown shows them as written."""
    return re.sub(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", r"`\1`", text)


def badge_now() -> str:
    """The badge for the page as it loads: the scorer's, once ready (waits for it)."""
    try:
        return scorer_badge(current_scorer())
    except StudioError as err:  # ScorerUnavailable: the badge says why
        return badge_line("Scorer unavailable", _code_names(str(err)))


# ---------------------------------------------------------------------------------------------------------------
# Per-session results and cancel requests


@dataclass(frozen=True)
class PromptResult:
    """One found sound in a session's results list."""

    key: str  # the results radio's value
    label: str
    preset: object  # Preset with the prompt
    score: float


SEARCHES = JobRunner(MAX_RESULTS, UPDATE_INTERVAL_S, kind="prompt")  # every session's prompt searches


# ---------------------------------------------------------------------------------------------------------------
# Handlers (module level, so tests call them directly)


def score_curve(curves, generations: int, scorer):
    """The score curve image on the scorer's own score range; its x axis grows with the longest restart so far
    (at least 10 generations, at most the budget's), so a search that ends early still fills the picture."""
    lo, hi = scorer.score_range
    longest = max((len(c) for c in curves), default=0)
    return plots.score_curve_image(curves, min(generations, max(longest, 10)), lo=lo, hi=hi)


def score_text(score: float, scorer) -> str:
    note = "" if scorer.semantic else " (random weights: not meaningful)"
    return f"{score:.3f}{note}"


def understood_text(scorer, objective, typed_chars: int = 0) -> str:
    """What the scorer makes of the prompt (and which constraints hold beside it), for the line under the box;
    ``typed_chars``: how long the prompt was before it was cut (0: not cut), said first."""
    from studio.scoring import explain

    duration = objective.settings.duration
    cut = ""
    if typed_chars:
        cut = (f"**Prompt cut:** it was {typed_chars:,} characters long; the search reads its first "
               f"{len(objective.prompt)} (up to “…{markdown_text(objective.prompt[-30:].lstrip())}”).  \n")
    if scorer.explains_prompt:
        text = f"{cut}**Understood:** {markdown_text(scorer.explain(objective.prompt, duration))}"
    else:
        text = (f"{cut}{scorer.label} judges the prompt's text itself. (Descriptor reading, for reference: "
                f"{markdown_text(explain(objective.prompt, duration))})")
    if objective.constraints.active:
        replaced = " — they replace the prompt's targets on those qualities" if scorer.explains_prompt else ""
        text += f"  \n**Constraints:** {objective.constraints.describe()}{replaced}"
    return text


def judged_text(evaluations: int, plan, verified: int | None = None) -> str:
    """How many sounds the scorer judged, out of ``evaluations`` candidates of ``plan.population`` a generation:
    all of them, or with proxy screening (``verified``: how many a generation CLAP judges) the proxy's best."""
    if verified is None:
        return f"{evaluations} sounds judged"
    return (f"{evaluations} candidates screened by the CLAP proxy, {evaluations // plan.population * verified} "
            f"judged by CLAP")


def screening_text(plan, verified: int | None, note: str | None) -> str:
    """What the search runs on, for the progress line before its first generation: with proxy screening, how many
    candidates the proxy ranks and CLAP judges a generation; without, the proxy's note (why none is used and how to
    train one); nothing for a scorer without proxies (``note`` None)."""
    if verified is None:
        return note_line(note)
    return (f"  \nGenerations run on the CLAP proxy: it ranks {plan.population} candidates a generation and CLAP "
            f"judges only its best {verified}.")


def note_line(note: str | None) -> str:
    """``note`` (the CLAP proxy's sentence) as a line of its own under the progress line, shown literally; "" for
    None."""
    if not note:
        return ""
    return f"  \n{markdown_text(note[:1].upper() + note[1:])}{'' if note.endswith('.') else '.'}"


def progress_text(p, scorer, plan, strategy: str, constrained: bool, verified: int | None = None) -> str:
    """The line under the prompt while a search runs (``verified``: see :func:`judged_text`)."""
    restart = f" · restart {p.restart + 1} of {p.restarts}" if p.restarts > 1 else ""
    met = (" · constraints met" if p.best_penalty == 0 else " · constraints not met yet") if constrained else ""
    return (f"Searching ({STRATEGY_LABELS[strategy]}, {plan.name} budget): generation {p.generation} of "
            f"{p.generations}{restart} · {judged_text(p.evaluations, plan, verified)} · best score "
            f"{score_text(p.best_score, scorer)}{met} · {p.elapsed_s:.1f} s")


def result_label(number: int, prompt: str, result, scorer, checks) -> str:
    """A result's line in the list: number, prompt, score, constraints met (✓) or not (✗), seed."""
    constraint = ""
    if checks:
        constraint = " · constraints ✓" if all(c.met for c in checks) else " · constraints ✗"
    short = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    return f"{number}. {short} · score {score_text(result.score, scorer)}{constraint} · seed {result.seed}"


def short_name(prompt: str, limit: int = NAME_CHARS) -> str:
    """A found sound's name: the prompt's first words, at most ``limit`` characters (one long word is cut)."""
    if len(prompt) <= limit:
        return prompt
    cut = prompt[:limit + 1]
    cut = cut[:cut.rfind(" ")] if " " in cut else cut[:limit]
    return cut.rstrip(" ,;.:-")


def search_for_prompt(c: dict, prompt, pitch, length, brightness, noisiness, budget, strategy, seed, restarts,
                      locks, state: st.StudioState, results, session: str = "no-session", scorer=None,
                      client: str | None = None):
    """Search for the prompt, streaming ``{component: value}`` updates of the panel ``c`` (see
    :func:`stream_outputs`) as it runs.

    Mistakes (empty prompt, bad note name, NaN, unknown budget, every knob locked) raise ``StudioError``s with a
    message naming the field, before anything runs. A prompt longer than ``MAX_PROMPT_CHARS`` is cut at a word
    (the "Understood" line says so); found sounds are named after its first words (:func:`short_name`).
    The search uses the current sound's render settings; locked knobs keep its values. The last update adds the
    results (best first) to the session's list.
    scorer: the process's shared one (:func:`current_scorer`, waiting for it to load) unless given.
    """
    # The job (and its stop flag) starts before the inputs are checked and the scorer loads: Cancel pressed while
    # loading or compiling stops the search before its first generation, and a claim (claim_search) is released
    # however the job ends.
    with SEARCHES.job(session, prompt if isinstance(prompt, str) else "", client) as flag:
        text, typed_chars = cut_prompt(prompt)
        settings = state.sound.settings
        pitch, length, brightness, noisiness = (v.strip() if isinstance(v, str) else v
                                                for v in (pitch, length, brightness, noisiness))
        constraints = Constraints.from_user(pitch, length, brightness, noisiness, settings.duration)
        budget = check_choice(budget, BUDGET_NAMES, "budget")
        strategy = check_choice(strategy or "learned_es", STRATEGIES, "strategy")
        seed = check_seed(seed)
        restarts = check_whole(restarts, 1, MAX_RESTARTS, "restarts")
        mask = lock_mask(list(locks or []))
        if mask.all():
            raise StudioError("every knob is locked: unlock at least one group to search", "locks")
        if not (yield from SEARCHES.wait_turn(session, flag, lambda line: {c["progress"]: line})):
            yield {c["progress"]: "Stopped before the first generation: nothing found."}
            return
        warm = None
        if scorer is None:
            if not shared_scorer().done():
                yield {c["progress"]: "Loading the scorer (first time only)…", c["badge"]: LOADING_BADGE}
            scorer = current_scorer()
            warm = started(SEARCH_WARM_UP)
        badge = scorer_badge(scorer)
        objective = PromptObjective(scorer, text, settings, constraints)  # reads the prompt: raises when not understood
        understood = understood_text(scorer, objective, typed_chars)
        # CLAP with a proxy trained for it: the generations run on the proxy (the CLI searches the same way)
        searched, plan, note = proxy_screened(objective, budget_for(budget, scorer, constraints.active))
        verified = searched.verify if searched is not objective else None
        if warm is not None and not warm.done():
            yield {c["progress"]: "Compiling the search (once per server start)…", c["understood"]: understood,
                   c["badge"]: badge}
            settled(warm, SCORER_WAIT_S)
        yield {c["curve"]: score_curve([], plan.generations, scorer), c["understood"]: understood, c["badge"]: badge,
               c["progress"]: f"Searching ({STRATEGY_LABELS[strategy]}, {plan.name} budget, {plan.population} "
                              f"{'candidates' if verified else 'sounds'} per generation)…"
                              f"{screening_text(plan, verified, note)}"}

        curves: list[list[float]] = [[] for _ in range(restarts)]
        best = {"fitness": np.inf, "theta": None, "shown": None}

        def track(p) -> None:
            curves[p.restart].append(p.best_score)
            if p.best_fitness < best["fitness"]:  # the best over every restart so far is what plays
                best["fitness"], best["theta"] = p.best_fitness, p.best_theta

        def show(p) -> dict:
            update = {c["curve"]: score_curve(curves, p.generations, scorer),
                      c["progress"]: progress_text(p, scorer, plan, strategy, constraints.active, verified)}
            if best["shown"] is None or not np.array_equal(best["shown"], best["theta"]):
                update[c["audio"]], update[c["spectrogram"]] = preview(best["theta"], settings)
                best["shown"] = best["theta"]
            return update

        reports = search(searched, plan, strategy=strategy, seed=seed, restarts=restarts, locked=mask,
                         theta=state.sound.theta, cancel=flag)
        final = yield from SEARCHES.stream(reports, show, track)
    if final is None or not final.results:
        message = "Stopped before the first generation: nothing found." if final is not None and final.cancelled \
            else "The search found nothing."
        yield {c["progress"]: message}
        return
    new = []
    stamp = f"{time.time_ns():x}"
    base_name = short_name(text)
    for rank, result in enumerate(final.results, start=1):
        name = base_name if rank == 1 else f"{base_name} #{rank}"
        preset = to_preset(result, objective, strategy=strategy, budget=plan.name, name=name)
        checks = constraint_checks(preset, constraints)
        label = result_label(len(new) + 1, text, result, scorer, checks)
        new.append(PromptResult(f"{stamp}-{rank}", label, preset, float(result.score)))
    all_results = SEARCHES.keep(new, results)
    top = new[0]
    audio, image = preview(top.preset.theta, settings)
    checks = constraint_checks(top.preset, constraints)
    verb = "Stopped early; kept the best so far" if final.cancelled else "Done"
    summary = (f"{verb}: {len(new)} result{'s' if len(new) > 1 else ''} in {final.elapsed_s:.1f} s, "
               f"{judged_text(final.evaluations, plan, verified)}. Best score {score_text(top.score, scorer)}.")
    summary += note_line(note)  # CLAP: which proxy screened the candidates, or why none did and how to train one
    if checks:
        summary += "  \n" + "; ".join(check.text for check in checks)
    yield {c["audio"]: audio, c["spectrogram"]: image, c["curve"]: score_curve(curves, final.generations, scorer),
           c["progress"]: summary, **listed_results(c, all_results, top)}


def claim_search(prompt, session: str, client: str | None = None) -> str:
    """Generate pressed: reserve the session's search (:meth:`JobRunner.claim`) and return the progress line's
    text while it waits for its turn; or refuse with a ``StudioError`` naming the search still running (one search
    per session: a second click must neither vanish nor replace the first unasked)."""
    what = short_name(" ".join(prompt.split())) if isinstance(prompt, str) else ""
    running = SEARCHES.claim(session, what, client)
    if running is not None:
        new = f" for “{what}”" if what else ""
        first = f"The search for “{running}”" if running else "A search"
        raise StudioError(f"{first} is still running, so Generate{new} was not started. Press "
                          f"Cancel to stop it (its best so far is kept) or wait for it to finish, then press "
                          f"Generate again.", "prompt")
    return f"Starting the search for “{markdown_text(what)}”…" if what else "Starting the search…"


def failed_search(c: dict, message: str) -> dict:
    """The panel after a search failed: the message in the progress line, this run's understanding, sound,
    spectrogram and score curve cleared (the results list keeps earlier searches' sounds)."""
    return {c["progress"]: failed_line(message), c["understood"]: "", c["audio"]: None, c["spectrogram"]: None,
            c["curve"]: None}


def constraint_checks(preset, constraints: Constraints) -> list:
    """How a found sound meets the constraints (none when none are set)."""
    if not constraints.active:
        return []
    from studio.audio.sound_profile import sound_profile

    audio = render_audio(preset)
    return constraints.check(sound_profile(audio, preset.settings.sample_rate))


def chosen_result(choice, results) -> PromptResult:
    """The result the radio points at; ``StudioError`` when there is none."""
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
            # No max_length: the browser would cut a pasted description without a word; the search cuts it at
            # MAX_PROMPT_CHARS and says so.
            c["prompt"] = gr.Textbox("", label="Prompt", placeholder="describe a sound, e.g. short bright pluck",
                                     lines=1, elem_id="prompt-text",
                                     info=f"the search reads the first {MAX_PROMPT_CHARS} characters")
            with gr.Row():
                c["generate"] = gr.Button("Generate", variant="primary", elem_id="prompt-generate", scale=2)
                c["cancel"] = gr.Button("Cancel", variant="stop", elem_id="prompt-cancel", scale=1)
            gr.Examples([[e] for e in EXAMPLES], inputs=[c["prompt"]], label="Examples", examples_per_page=10)
            c["budget"] = gr.Radio(list(BUDGET_NAMES), value="quick", label="Budget", elem_id="prompt-budget",
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
                        "renders with the current sound's settings (buffer length, noise seed).",
                        elem_id="prompt-locks-note")
        with gr.Column(scale=3, min_width=360):
            c["understood"] = gr.Markdown("", elem_id="prompt-understood")
            c["progress"] = gr.Markdown("Type a prompt and press Generate.", elem_id="prompt-progress")
            c["audio"] = player_audio(None, type="numpy", format="wav", label="Best so far", interactive=False,
                                  autoplay=False, buttons=["download"], elem_id="prompt-audio")
            c["spectrogram"] = gr.Image(None, label="Its spectrogram", format="jpeg", interactive=False, buttons=[],
                                        elem_id="prompt-spectrogram")
            c["curve"] = gr.Image(None, label="Best score per generation (one line per restart)", format="png",
                                  interactive=False, buttons=[], elem_id="prompt-curve")
            result_controls(c, "prompt", "Results (newest first)")
    return c


def stream_outputs(c: dict) -> list:
    """Every component :func:`search_for_prompt` may update."""
    return [c["audio"], c["spectrogram"], c["curve"], c["progress"], c["understood"], c["badge"], c["results"],
            c["choice"], c["name"]]


def wire(studio: Studio, c: dict, demo: gr.Blocks) -> None:
    limit = studio.config.render_concurrency
    private = dict(api_visibility="private")
    render = dict(concurrency_id=RENDER_GROUP, concurrency_limit=limit, api_visibility="private")
    locks = studio.locks if studio.locks is not None else gr.State([])

    demo.load(badge_now, None, c["badge"], show_progress="hidden", concurrency_limit=None, **private)

    claimed = gr.State(False)  # whether this click's search may run (claim_search said yes)

    def start_prompt_search(prompt, request: gr.Request):
        # A refusal is a warning toast, not an event error: an error would put a red label over the running
        # search's progress line.
        try:
            return claim_search(prompt, session_id(request), client_of(request)), True
        except StudioError as refused:
            gr.Warning(toast_text(refused), title="Search not started")
            return gr.update(), False
        except Exception as error:
            raise shown_error(error) from None

    @streamed_user_errors(failed=lambda message: failed_search(c, message))
    def search_prompt(go, prompt, pitch, length, brightness, noisiness, budget, strategy, seed, restarts, locked,
                      state, results, request: gr.Request):
        if not go:
            return
        yield from search_for_prompt(c, prompt, pitch, length, brightness, noisiness, budget, strategy, seed,
                                     restarts, locked, state, results, session_id(request),
                                     client=client_of(request))

    inputs = [claimed, c["prompt"], c["pitch"], c["length"], c["brightness"], c["noisiness"], c["budget"],
              c["strategy"], c["seed"], c["restarts"], locks, studio.state, c["results"]]
    # Searches never wait in Gradio's queue (its slots are shared with knob renders and page loads): they start
    # at once and the job gate (jobs.GATE) orders them, refusing at once what a page or the server has no room
    # for. Generate first claims the session's search (no wait): a second Generate while one runs gets a message
    # instead of vanishing. Progress is the panel's own text line: no spinner or error pill over it.
    searching = dict(concurrency_limit=None, api_visibility="private", show_progress="hidden")
    claiming = dict(concurrency_limit=None, trigger_mode="multiple", show_progress="hidden", **private)
    for trigger in (c["generate"].click, c["prompt"].submit):
        trigger(start_prompt_search, c["prompt"], [c["progress"], claimed], **claiming) \
            .success(search_prompt, inputs, stream_outputs(c), **searching)

    def cancel_prompt_search(request: gr.Request):
        SEARCHES.cancel(session_id(request))

    c["cancel"].click(cancel_prompt_search, None, None, concurrency_limit=None, show_progress="hidden", **private)

    def forget_prompt_session(request: gr.Request):
        SEARCHES.forget(session_id(request))

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
