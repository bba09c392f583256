"""Choosing a scorer: CLAP when its weights load here, the offline descriptor scorer otherwise, and why."""
from __future__ import annotations

import threading

from studio.checks import check_choice

from .base import Scorer, ScorerUnavailable
from .descriptors import DescriptorScorer

SCORER_KINDS = ("auto", "clap", "descriptors")

_failures: dict[tuple[str, str | None], ScorerUnavailable] = {}  # a source that failed once is not retried
_lock = threading.Lock()


def make_scorer(kind: str = "auto", clap_model: str | None = None, device: str | None = None) -> Scorer:
    """The scorer to use, with its ``reason`` set for the UI badge and the CLI.

    kind: "clap" (raise :class:`ScorerUnavailable` with the reason when CLAP cannot load), "descriptors", or
    "auto" (CLAP if it loads, else the descriptor scorer with CLAP's failure as the reason). clap_model: a Hub
    id or folder (default ``$SYNTH_STUDIO_CLAP``, else ``laion/clap-htsat-unfused``). device: torch device for
    CLAP (default: CUDA when available). :class:`~studio.errors.SettingsError` (field ``"scorer"``) for an
    unknown kind.
    """
    check_choice(kind, SCORER_KINDS, "scorer")
    if kind == "descriptors":
        return DescriptorScorer(reason="the descriptor scorer was chosen: it judges measured pitch, brightness, "
                                       "noisiness, envelope and modulation, offline",
                                headline="Offline word scorer — chosen in the settings")
    from .clap import cached_clap, clap_source

    source = clap_source(clap_model)
    with _lock:  # one load at a time: two UI sessions must not load the weights twice
        failure = _failures.get((source, device))
        if failure is None:
            try:
                return cached_clap(source, device)
            except ScorerUnavailable as err:
                _failures[(source, device)] = failure = err
    if kind == "clap":
        raise failure
    return DescriptorScorer(reason=f"CLAP is unavailable: {failure}. Using the offline descriptor scorer",
                            headline=f"Offline word scorer — {clap_missing(failure)}")


def clap_missing(failure: ScorerUnavailable) -> str:
    """Why CLAP could not load, in three or four words (the failure's message has the details)."""
    text = str(failure)
    if "needs torch and transformers" in text:
        return "CLAP not installed"
    if "not in the local Hugging Face cache" in text:
        return "CLAP not downloaded"
    if "does not hold CLAP weights" in text:
        return "no CLAP weights in the folder given"
    return "CLAP failed to load"


ENABLE_CLAP = ("To use CLAP (it judges the sound against the prompt's meaning, not a word list): install the "
               "studio's requirements.txt (torch and transformers), then either let the studio download "
               "laion/clap-htsat-unfused from the Hugging Face Hub once, or set SYNTH_STUDIO_CLAP to a folder "
               "with a local copy of it; restart the studio.")


def scorer_headline(scorer) -> str:
    """One line for the UI: which scorer judges, and (when it is not CLAP) why not."""
    return getattr(scorer, "headline", "") or str(scorer.label)
