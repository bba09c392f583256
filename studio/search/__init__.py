"""Searching the synth's knobs: one engine (:mod:`.engine`), and its two uses — prompt search (:mod:`.prompt`,
CTAG) and sound matching (:mod:`.match`).

The names most callers need are re-exported here: ``from studio.search import prompt_search, run_to_end``.
"""
from .engine import (BUDGET_NAMES, MAX_RESTARTS, STRATEGIES, STRATEGY_LABELS, Budget, Evaluation, Objective, Progress,
                     SearchResult, judge, run_to_end, search, use_compilation_cache)
from .prompt import BUDGETS, PromptObjective, budget_for, prompt_search, proxy_screened, to_preset, warm_up

__all__ = ["BUDGET_NAMES", "BUDGETS", "Budget", "Evaluation", "MAX_RESTARTS", "Objective", "Progress",
           "PromptObjective", "STRATEGIES", "STRATEGY_LABELS", "SearchResult", "budget_for", "judge",
           "prompt_search", "proxy_screened", "run_to_end", "search", "to_preset", "use_compilation_cache", "warm_up"]
