"""Security headers on every HTTP response of the studio's server, and a clean 404 for event streams of unknown
sessions (issue 13, item 9).

* ``X-Content-Type-Options: nosniff``: a browser never guesses a served file's type (an uploaded "WAV" that is
  really HTML is not rendered as a page).
* ``Referrer-Policy: strict-origin-when-cross-origin``: other sites see at most the studio's origin, never a page's
  path or query.
* Framing: a Hugging Face Space shows the app inside an ``<iframe>`` on ``https://huggingface.co/spaces/…`` (the app
  itself is served from ``https://<owner>-<space>.hf.space``), so ``X-Frame-Options: DENY`` would blank the Space's
  page. Inside a Space (``SPACE_ID`` set) the studio sends ``Content-Security-Policy: frame-ancestors 'self'
  https://huggingface.co https://*.hf.space`` and no ``X-Frame-Options`` (it cannot name another origin); elsewhere
  ``frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN`` (older browsers), so no other site can frame the
  studio to trick clicks. ``SYNTH_STUDIO_FRAME_ANCESTORS`` (a space-separated source list) replaces the list.

The middleware is pure ASGI (it edits the response's start message only), so streamed responses (the queue's
server-sent events, file downloads) pass through untouched. It reaches Gradio's app through ``launch(app_kwargs=…)``
(:func:`app_kwargs`), which Gradio passes to the FastAPI app it builds.
"""
from __future__ import annotations

import os

from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

SPACE_FRAME_ANCESTORS = "'self' https://huggingface.co https://*.hf.space"
LOCAL_FRAME_ANCESTORS = "'self'"


def security_headers(environ: dict | None = None) -> dict[str, str]:
    """The headers every response gets, for this environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    in_space = bool(env.get("SPACE_ID"))
    ancestors = (env.get("SYNTH_STUDIO_FRAME_ANCESTORS") or "").strip() or (
        SPACE_FRAME_ANCESTORS if in_space else LOCAL_FRAME_ANCESTORS)
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Content-Security-Policy": f"frame-ancestors {ancestors}",
    }
    if ancestors == LOCAL_FRAME_ANCESTORS:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every HTTP response that does not set them itself."""

    def __init__(self, app, headers: dict[str, str] | None = None):
        self.app = app
        self.headers = dict(security_headers() if headers is None else headers)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnknownQueueSessionMiddleware:
    """``GET /gradio_api/queue/data`` for a session with no pending events gets a plain 404 here. Gradio raises
    its 404 only inside the event stream it has already started, so every such request (anyone can send one)
    printed a traceback to the log and ended in a broken response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("method") == "GET" and scope.get("path", "").endswith(
                "/gradio_api/queue/data") and not self._pending(scope):
            await JSONResponse({"detail": "no such session: join the queue first"}, status_code=404)(
                scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _pending(scope) -> bool:
        try:
            session = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [""])[0]
            pending = scope["app"].get_blocks()._queue.pending_messages_per_session
        except Exception:  # not Gradio's app, or its internals changed: let Gradio answer
            return True
        return bool(session) and session in pending


def app_kwargs(extra: dict | None = None) -> dict:
    """``launch(app_kwargs=…)`` for the studio: the FastAPI app Gradio builds gets :class:`SecurityHeadersMiddleware`
    and :class:`UnknownQueueSessionMiddleware` (after any middleware already in ``extra``)."""
    kwargs = dict(extra or {})
    kwargs["middleware"] = [*kwargs.get("middleware", ()), Middleware(SecurityHeadersMiddleware),
                            Middleware(UnknownQueueSessionMiddleware)]
    return kwargs
