"""Objectives that judge a sound against a prompt: CLAP (text ↔ audio embeddings) and offline descriptors.

``make_scorer("auto")`` gives CLAP when its weights load here and the descriptor scorer otherwise, with a
plain reason either way (for the UI badge and the CLI). torch and transformers are imported only when CLAP
is asked for.
"""
from .base import BUDGET_FAMILIES, PromptError, Scorer, ScorerUnavailable, Terms, check_prompt
from .constraints import ConstraintError, Constraints, parse_pitch
from .descriptors import DescriptorScorer, explain, known_words, read_prompt
from .factory import SCORER_KINDS, make_scorer

__all__ = ["BUDGET_FAMILIES", "PromptError", "Scorer", "ScorerUnavailable", "Terms", "check_prompt",
           "ConstraintError", "Constraints", "parse_pitch", "DescriptorScorer", "explain", "known_words",
           "read_prompt", "SCORER_KINDS", "make_scorer"]
