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

import asyncio
import datetime
import json
import logging
import math
import os
import threading
import time
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

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


class RequestRate:
    """Token buckets per address: ``burst`` requests at once, then ``rate_per_s``. Buckets of addresses idle long
    enough to be full again are forgotten once more than ``max_clients`` are kept."""

    def __init__(self, burst: int, rate_per_s: float, max_clients: int = 10_000):
        self.burst, self.rate, self.max_clients = float(burst), float(rate_per_s), max_clients
        self._buckets: dict[str, list[float]] = {}  # address -> [tokens, time of the last update]
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Charge one request to ``client``: 0.0 when it may go, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self.max_clients:
                    self._forget_idle(now)
                bucket = self._buckets[client] = [self.burst, now]
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if bucket[0] >= 1.0:
                bucket[0] -= 1.0
                return 0.0
            return (1.0 - bucket[0]) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key in [k for k, (_, t) in self._buckets.items() if now - t >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:  # all busy: forget the longest idle half
            for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1][1])[:len(self._buckets) // 2]:
                del self._buckets[key]


def queued_from(scope, client: str) -> tuple[int, int]:
    """How many events from ``client`` (waiting in Gradio's queue, running) the app serving ``scope`` has."""
    from studio.ui.disk import client_key

    try:
        queue = scope["app"].get_blocks()._queue
        waiting = [event for line in list(queue.event_queue_per_concurrency_id.values()) for event in list(line.queue)]
        running = [event for job in list(queue.active_jobs) if job for event in job]
    except Exception:  # not Gradio's app, or its internals changed: count nothing
        return 0, 0

    def theirs(events) -> int:
        return sum(1 for event in events
                   if getattr(event, "request", None) is not None and client_key(event.request.scope) == client)

    return theirs(waiting), theirs(running)


class RateLimit:
    """ASGI middleware for public mode: every POST (queue joins, API calls, uploads: everything that makes the
    server work) is charged to its address (:func:`studio.ui.disk.client_key`) in a :class:`RequestRate`; beyond it
    the request is refused before Gradio sees it, with HTTP 429, a plain-text reason and ``Retry-After``. Page
    loads, files and event streams (GETs) are never refused. A queue join is also refused while the address has
    ``EVENT_QUEUED_PER_ADDRESS`` events waiting in Gradio's queue: within the rate, one visitor rejoining from fresh
    sessions kept ~46 of its 64 places and every other visitor's renders waited behind them, 7–12× their p95
    (``bench/load_test.py``); and while it has ``EVENT_RUNNING_PER_ADDRESS`` running: events that skip the queue's
    limits (long jobs) start at once, and Gradio runs at most ``max_threads`` (40) events in all, so one address
    sending match after match held 39 of them (each decoding its upload before the gate refused it) and every other
    visitor's render waited 10–40 s for a free one."""

    def __init__(self, app, rate: RequestRate | None = None):
        from studio import limits

        self.app = app
        self.rate = rate or RequestRate(limits.EVENT_BURST, limits.EVENT_RATE_PER_S, limits.RATE_LIMIT_MAX_CLIENTS)
        self.new_sessions = RequestRate(limits.NEW_SESSION_BURST, limits.NEW_SESSIONS_PER_MIN / 60.0,
                                        limits.RATE_LIMIT_MAX_CLIENTS)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        from studio.ui.disk import client_key

        client = client_key(scope)
        wait_s = self.rate.take(client)
        if wait_s:
            retry = max(1, math.ceil(wait_s))
            reason = (f"Too many requests from this address: at most {self.rate.burst:g} at once and "
                      f"{self.rate.rate:g} a second. Try again in {retry} s.")
        elif scope.get("path", "").endswith("/queue/join"):
            body, receive = await read_body(receive)
            reason, retry = self._too_many_in_flight(scope, client), 2
            new = reason is None and self._new_session(scope, body)
            if new:
                wait_s = self.new_sessions.take(client)
                if wait_s:
                    retry = max(1, math.ceil(wait_s))
                    reason = (f"Too many new pages from this address: at most {self.new_sessions.burst:g} at once and "
                              f"{60 * self.new_sessions.rate:g} a minute.")
            if reason is None:
                if new:
                    await state_made_off_the_loop(scope, new)
                return await self.app(scope, receive, send)
            reason += f" Try again in {retry} s."
        else:
            return await self.app(scope, receive, send)
        body = reason.encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _new_session(scope, body: bytes) -> str | None:
        """The session a queue join's body names when the app has no state for it yet (Gradio builds one on the
        event loop: a copy of the page's configuration, ~1 MB and tens of ms for the studio's 560 components), else
        None."""
        try:
            session = json.loads(body).get("session_hash")
            holder = scope["app"].get_blocks().state_holder
        except Exception:  # not JSON, not Gradio's app, or its internals changed: Gradio answers
            return None
        return session if isinstance(session, str) and session not in holder.session_data else None

    def _too_many_in_flight(self, scope, client: str) -> str | None:
        """Why a queue join from ``client`` is refused for the events it has in the queue already, or None."""
        from studio import limits

        waiting, running = queued_from(scope, client)
        if waiting >= limits.EVENT_QUEUED_PER_ADDRESS:
            return (f"Too many requests from this address are waiting in the studio's queue (at most "
                    f"{limits.EVENT_QUEUED_PER_ADDRESS}).")
        if running >= limits.EVENT_RUNNING_PER_ADDRESS:
            return (f"Too many requests from this address are running in the studio (at most "
                    f"{limits.EVENT_RUNNING_PER_ADDRESS} at once).")
        return None


async def state_made_off_the_loop(scope, session: str) -> None:
    """Build a new session's Gradio state (``SessionState``) in a worker thread and hand it to the app, so Gradio
    finds it instead of building it on the event loop. On the loop, each new session stopped every other request
    for its build: ~40 ms alone, ~0.3 s on two cores busy with renders, a fifth of the loop's time while the load
    test's attacker opened its 30 pages a minute. Anything unexpected leaves the building to Gradio."""
    try:
        from gradio.state_holder import SessionState

        holder = scope["app"].get_blocks().state_holder
        state = await asyncio.to_thread(SessionState, holder.blocks)
    except Exception:  # Gradio's internals changed: it builds the state itself, as before
        log.debug("could not build a session's state off the event loop", exc_info=True)
        return
    if session not in holder.session_data:  # back on the loop; a join of the same session may have built one
        holder.session_data[session] = state
        holder.time_last_used[session] = datetime.datetime.now()  # as Gradio stamps it: the sweeper keeps it


async def read_body(receive, limit: int = 1 << 20) -> tuple[bytes, object]:
    """A request's body (its first ``limit`` bytes, enough for any queue join) and a ``receive`` that replays what
    was read, for an ASGI middleware that looks at a body before the app reads it."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body") or size > limit:
            break
    body = b"".join(m.get("body", b"") for m in messages)

    async def replay():
        return messages.pop(0) if messages else await receive()

    return body, replay


def app_kwargs(extra: dict | None = None, rate_limit: bool = False) -> dict:
    """``launch(app_kwargs=…)`` for the studio: the FastAPI app Gradio builds gets :class:`SecurityHeadersMiddleware`
    (outermost: refusals get the headers too), with ``rate_limit`` (public mode) :class:`RateLimit` next (before
    anything else works on a request), then any middleware already in ``extra`` and
    :class:`UnknownQueueSessionMiddleware`."""
    kwargs = dict(extra or {})
    limit = [Middleware(RateLimit)] if rate_limit else []
    kwargs["middleware"] = [Middleware(SecurityHeadersMiddleware), *limit, *kwargs.get("middleware", ()),
                            Middleware(UnknownQueueSessionMiddleware)]
    return kwargs
