"""Errors a user can cause, as one family: the UI and the CLI show these (and only these) as messages.

Everything else that goes wrong is a defect of the studio: the UI logs it with its traceback and shows a short
"internal error, logged" message; the CLI prints the same line and exits with status 1.

A :class:`StudioError` carries the message (a full sentence that says what is wrong and what is accepted) and,
where the mistake is in one field (a knob, a setting, a preset key, a command-line option), that field's name, so
a caller can point at it without parsing the text. It subclasses ``ValueError`` so callers that only need "bad
input" keep working.
"""
from __future__ import annotations


class StudioError(ValueError):
    """A mistake a user can make (bad preset, target audio, settings, prompt, library request…).

    ``field``: the name of the field at fault (``"params.adsr_1.decay"``, ``"seed"``, ``"duration"``), or None.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class SettingsError(StudioError):
    """A setting out of its range or of the wrong kind: a seed, a budget, a strategy, a duration, a note name…"""


INTERNAL_ERROR_MESSAGE = "Internal error: the studio hit a bug. It was logged with its details; please report it."
