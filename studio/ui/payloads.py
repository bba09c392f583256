"""Hostile or malformed event payloads get a specific message and one log line, never a traceback (issue 13, item 9).

The page always sends well-formed values, but anyone can post to Gradio's queue or ``/run/predict`` directly:
``"nan"``, ``None``, ``2**70``, a list or a dict where a slider, a number box or a dropdown expects a number or a
choice. Gradio's own checks then either raise with a bare ``TypeError`` (the browser gets an error without a
message) or raise a ``gr.Error`` that prints a full traceback to the server's log for every such request; a flood
of them buries the log. :func:`guard_inputs` puts one check in front of Gradio's preprocessing of every event:

* each value for a slider, number, dropdown, radio, checkbox (group) or text box is checked against what the
  component accepts (a finite number in the slider's range, one of the choices, …) and refused with a message that
  names the control and says what it takes (numbers through :func:`studio.checks.check_number`);
* anything else Gradio refuses while preprocessing (a malformed file payload, a wrong number of inputs) is turned
  into a ``gr.Error`` with a short message;

either way the server logs one line (``refused input to <event>: <message>``) without a traceback. Handlers keep
their own checks (seeds through :func:`studio.checks.check_seed`, …): this only guards what Gradio does before they
run. Events with ``preprocess=False`` (the knobs, which clamp or refuse typed values themselves) are only guarded
against errors, not checked.
"""
from __future__ import annotations

import functools
import html
import logging
import math
import re
from numbers import Real

import gradio as gr
from gradio import components

from studio.checks import MAX_SEED, check_number, check_seed
from studio.errors import SettingsError

log = logging.getLogger(__name__)

MAX_SHOWN = 60  # characters of a refused value quoted in a message


def shown_value(value) -> str:
    """A refused value as a message quotes it: its repr, cut short, HTML-escaped (toasts render markup)."""
    text = repr(value)
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN - 1] + "…"
    return html.escape(text, quote=False)


def control_name(block) -> str:
    return str(getattr(block, "label", None) or getattr(block, "elem_id", None) or block.get_block_name())


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _choice_values(block) -> list:
    return [choice[1] if isinstance(choice, (tuple, list)) else choice for choice in (block.choices or ())]


def _choice_list(values: list) -> str:
    shown = ", ".join(html.escape(f"{v:g}" if isinstance(v, float) else str(v), quote=False) for v in values[:12])
    return shown + (", …" if len(values) > 12 else "")


def _check_choice(block, value, name: str) -> None:
    values = _choice_values(block)
    if getattr(block, "allow_custom_value", False):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise SettingsError(f"{name}: expected text or a number, got {shown_value(value)}", name)
        return
    ok = isinstance(value, (str, int, float)) and (not isinstance(value, bool) or any(isinstance(v, bool)
                                                                                        for v in values))
    if not ok or value not in values:
        raise SettingsError(f"{name}: {shown_value(value)} is not one of the choices ({_choice_list(values)})", name)


def _check_number(value, lo: float, hi: float, name: str) -> None:
    """A finite number from ``lo`` to ``hi`` (:func:`studio.checks.check_number`; the message names the control)."""
    try:
        if not _is_number(value):
            raise SettingsError("not a number", name)
        check_number(value, lo, hi, "value")
    except SettingsError:
        if math.isfinite(lo) and math.isfinite(hi):
            accepted = f" from {lo:g} to {hi:g}"
        elif math.isfinite(lo) or math.isfinite(hi):
            accepted = f" ≥ {lo:g}" if math.isfinite(lo) else f" ≤ {hi:g}"
        else:
            accepted = ""
        raise SettingsError(f"{name} must be a finite number{accepted}, got {shown_value(value)}", name) from None


def check_payload(block, value) -> None:
    """Refuse ``value`` for ``block`` with a :class:`~studio.errors.SettingsError` when Gradio's preprocessing
    would fail on it or pass the handler something of the wrong type."""
    name = control_name(block)
    if isinstance(block, components.Slider):
        _check_number(value, block.minimum, block.maximum, name)
    elif isinstance(block, components.Number):
        if value is None:
            return  # an empty box: the handler says what it needs
        if "seed" in name.lower():  # every seed has one rule (studio.checks.check_seed), said the same way here
            try:
                if not _is_number(value):
                    raise SettingsError("not a number", name)
                check_seed(value, name.lower())
            except SettingsError:
                raise SettingsError(f"the {name.lower()} must be a whole number from 0 to {MAX_SEED}, "
                                    f"got {shown_value(value)}", name) from None
            return
        lo = -math.inf if block.minimum is None else block.minimum
        hi = math.inf if block.maximum is None else block.maximum
        _check_number(value, lo, hi, name)
    elif isinstance(block, (components.Dropdown, components.Radio)):
        if value is None:
            return  # nothing chosen: the handler says what it needs
        if isinstance(block, components.Dropdown) and block.multiselect:
            if not isinstance(value, list):
                raise SettingsError(f"{name}: expected a list of choices, got {shown_value(value)}", name)
            for item in value:
                _check_choice(block, item, name)
        else:
            _check_choice(block, value, name)
    elif isinstance(block, components.CheckboxGroup):
        if not isinstance(value, list):
            raise SettingsError(f"{name}: expected a list of choices, got {shown_value(value)}", name)
        for item in value:
            _check_choice(block, item, name)
    elif isinstance(block, components.Dataset):  # examples: the page sends the number of the one clicked
        count = len(block.raw_samples or ())
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count):
            raise SettingsError(f"{name}: expected the number of an example from 0 to {count - 1}, "
                                f"got {shown_value(value)}", name)
    elif isinstance(block, components.Checkbox):
        if value is not None and not isinstance(value, bool):
            raise SettingsError(f"{name}: expected true or false, got {shown_value(value)}", name)
    elif getattr(block, "data_model", None) is not None and value is not None:  # a file: audio, an upload
        try:
            block.data_model.model_validate(value)
        except Exception:
            raise SettingsError(f"{name}: expected a file uploaded to this server, got {shown_value(value)}",
                                name) from None
    elif isinstance(block, components.Textbox):
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"{name}: expected text, got {shown_value(value)}", name)


def _refused(event: str, message: str) -> gr.Error:
    log.warning("refused input to %s: %s", event, html.unescape(message))
    return gr.Error(message, title="Input refused", print_exception=False)


def guard_inputs(demo: gr.Blocks) -> gr.Blocks:
    """Put :func:`check_payload` and the error conversion in front of ``demo``'s preprocessing (see the module's
    docstring). Returns ``demo``."""
    original = demo.preprocess_data

    @functools.wraps(original)
    async def preprocess_data(block_fn, inputs, state, explicit_call: bool = False):
        event = getattr(block_fn, "name", None) or "an event"
        if isinstance(inputs, list) and len(inputs) < len(block_fn.inputs):  # (more are ignored, as Gradio does)
            raise _refused(event, f"expected {len(block_fn.inputs)} input values, got {len(inputs)}")
        if block_fn.preprocess and isinstance(inputs, list):
            for i, (block, value) in enumerate(zip(block_fn.inputs, inputs)):
                if getattr(block, "stateful", False) or i in (block_fn.component_prop_inputs or ()):
                    continue
                if state is not None and block._id in state:
                    block = state[block._id]  # this session's copy (choices updated by an earlier event)
                try:
                    check_payload(block, value)
                except SettingsError as error:
                    raise _refused(event, str(error)) from None
        try:
            return await original(block_fn, inputs, state, explicit_call)
        except gr.Error as error:
            if not error.print_exception:
                raise
            raise _refused(event, html.escape(str(error.message)[:300], quote=False)) from None
        except Exception as error:  # Gradio could not read a value (a file it did not hand out, too few inputs, …)
            position = re.search(r"input component at index (\d+)", str(error))
            if type(error).__name__ == "InvalidPathError":
                message = "a file in the request is not one uploaded to this server: upload it first"
            elif position and int(position.group(1)) < len(block_fn.inputs):
                message = f"{control_name(block_fn.inputs[int(position.group(1))])}: the value sent is not accepted"
            else:
                message = f"the request's inputs were not understood ({type(error).__name__})"
            raise _refused(event, message) from None

    demo.preprocess_data = preprocess_data
    return demo
