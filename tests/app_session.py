"""A browser session of a built (not served) app, for tests that run its events as Gradio does (``process_api``
with a per-session state) without a browser. The event loop it runs them on is ``tests/conftest.py``'s ``loop``."""
from __future__ import annotations

import asyncio

import gradio as gr
from gradio.state_holder import SessionState


class Session:
    """One browser session of ``demo``: calls events by their handler's name.

    explicit_call: run events as a direct call of the app does (Gradio then accepts files from outside its upload
    folder: a test's own files).
    """

    def __init__(self, demo: gr.Blocks, loop, explicit_call: bool = False):
        self.demo, self.loop, self.state = demo, loop, SessionState(demo)
        self.explicit_call = explicit_call
        self.fns = {}
        for f in demo.fns.values():
            self.fns.setdefault(getattr(f.fn, "__name__", ""), f)

    def __call__(self, name: str, *values) -> list:
        """Run the event whose handler is called ``name``; ``values`` fill its non-State inputs in order."""
        block_fn = self.fns[name]
        values = iter(values)
        inputs = [None if isinstance(c, gr.State) else next(values) for c in block_fn.inputs]
        coroutine = self.demo.process_api(block_fn=block_fn, inputs=inputs, state=self.state,
                                          explicit_call=self.explicit_call)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)["data"]

    def outputs(self, name: str, data: list) -> dict:
        """Output values keyed by elem_id (those that have one)."""
        return {c.elem_id: v for c, v in zip(self.fns[name].outputs, data) if getattr(c, "elem_id", None)}
