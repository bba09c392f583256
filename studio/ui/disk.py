"""Keeping the server's disk bounded: upload quotas, a sweeper for the files Gradio serves, and export folders.

- :class:`UploadQuota` (ASGI middleware, installed through ``launch(app_kwargs=...)``, see :func:`app_kwargs`): every
  multipart POST (``/gradio_api/upload`` needs no session, so anyone can send files) is charged by its
  ``Content-Length`` to its client (IP address) and to all clients together over a sliding window; over a quota, or
  while the served files take more than ``CACHE_MAX_BYTES``, it is refused with HTTP 429/503 and a plain-text reason
  before a byte is written.
- :func:`sweep_cache`: the files this app handed out or received (Gradio's cache) are deleted once nobody has been
  handed them for ``CACHE_MAX_AGE_S``; beyond ``CACHE_MAX_BYTES`` the oldest go early, but never one handed out in
  the last ``CACHE_MIN_AGE_S`` (a browser may still be fetching it). It runs every ``CACHE_SWEEP_EVERY_S`` while the
  server runs, and deletes everything the app made when the server stops.
- Export folders (``synth-studio-exports-<pid>-*``): one per server, named with its process id; removed when the
  server stops and at exit, and those of dead processes are swept when a new one is made.

The numbers live in :mod:`studio.limits`.
"""
from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from studio import limits

log = logging.getLogger(__name__)

EXPORT_PREFIX = "synth-studio-exports-"
_EXPORT_RE = re.compile(rf"{re.escape(EXPORT_PREFIX)}(\d+)-[^/]+")


# ---------------------------------------------------------------------------------------------------------------
# Uploads


def trusted_proxy_hops(env: dict | None = None) -> int:
    """How many proxies in front of the server append to ``X-Forwarded-For`` (``SYNTH_STUDIO_TRUST_PROXY``: a
    number, or "1"/"true"; default 1 inside a Hugging Face Space, where every request comes from its proxy, else 0)."""
    env = os.environ if env is None else env
    value = env.get(limits.TRUST_PROXY_ENV, "").strip().lower()
    if not value:
        return 1 if env.get("SPACE_ID") else 0
    if value.isdigit():
        return int(value)
    return 1 if value in {"true", "yes", "on"} else 0


def client_key(scope: dict) -> str:
    """The address a request is charged to: the peer, or behind trusted proxies the address the outermost of them
    saw (counted from the right of ``X-Forwarded-For``, so a client cannot pick its own by sending the header)."""
    hops = trusted_proxy_hops()
    if hops:
        forwarded = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"x-forwarded-for"]
        addresses = [a.strip() for a in ",".join(forwarded).split(",") if a.strip()]
        if addresses:
            return addresses[-min(hops, len(addresses))]
    client = scope.get("client")
    return client[0] if client else "unknown"


class DiskGuard:
    """What the upload quota and the sweeper share for one server: bytes and requests per client over the window,
    and the size of the served files as last swept plus what was uploaded since."""

    def __init__(self, export_dir: str | None = None):
        self.export_dir = export_dir
        self.lock = threading.Lock()
        self.clients: dict[str, collections.deque] = {}  # client -> deque of (time, bytes)
        self.everyone: collections.deque = collections.deque()  # (time, bytes) of every accepted upload
        self.cache_bytes = 0  # the served files' size at the last sweep, plus uploads accepted since

    def admit(self, client: str, size: int, now: float | None = None) -> tuple[int, str] | None:
        """Charge an upload of ``size`` bytes to ``client``; ``None`` if accepted, else (HTTP status, reason)."""
        now = time.monotonic() if now is None else now
        window = limits.UPLOAD_WINDOW_S
        with self.lock:
            for queue in (self.everyone, *self.clients.values()):
                while queue and now - queue[0][0] > window:
                    queue.popleft()
            for key in [k for k, q in self.clients.items() if not q]:
                del self.clients[key]
            mine = self.clients.get(client, ())
            minutes = f"{window / 60:g} minutes"
            if len(mine) >= limits.UPLOAD_CLIENT_MAX_REQUESTS:
                return 429, (f"Too many uploads: at most {limits.UPLOAD_CLIENT_MAX_REQUESTS} in {minutes} from one "
                             "address. Try again in a few minutes.")
            if sum(n for _, n in mine) + size > limits.UPLOAD_CLIENT_MAX_BYTES:
                return 429, (f"Upload quota used up: at most {limits.UPLOAD_CLIENT_MAX_BYTES / limits.MB:.3g} MB in "
                             f"{minutes} from one address. Try again in a few minutes.")
            if sum(n for _, n in self.everyone) + size > limits.UPLOAD_TOTAL_MAX_BYTES:
                return 503, ("The server takes no more uploads right now (all visitors together sent "
                             f"{limits.UPLOAD_TOTAL_MAX_BYTES / limits.MB:.3g} MB in {minutes}). "
                             "Try again in a few minutes.")
            if self.cache_bytes + size > limits.CACHE_MAX_BYTES:
                return 503, "The server's space for files is full right now. Try again in a few minutes."
            self.clients.setdefault(client, collections.deque()).append((now, size))
            self.everyone.append((now, size))
            self.cache_bytes += size
            return None


class UploadQuota:
    """ASGI middleware: refuse multipart POSTs (file uploads) beyond :class:`DiskGuard`'s quotas, with a plain-text
    reason, before the body is read. A multipart POST must declare its ``Content-Length`` (browsers and
    ``gradio_client`` do; the server enforces it)."""

    def __init__(self, app, guard: DiskGuard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        headers = scope.get("headers", ())
        if not any(key == b"content-type" and b"multipart" in value.lower() for key, value in headers):
            return await self.app(scope, receive, send)  # (any of them: a repeated header must not slip past)
        try:
            size = int(next(value for key, value in headers if key == b"content-length"))
        except StopIteration:
            return await _refuse(send, receive, 411, "Uploads must declare their size (Content-Length).", drain=False)
        except ValueError:
            return await _refuse(send, receive, 400, "The upload's Content-Length is not a number.", drain=False)
        refusal = self.guard.admit(client_key(scope), size)
        if refusal is not None:
            status, reason = refusal
            log.warning("refused an upload of %d bytes from %s: %s", size, client_key(scope), reason)
            return await _refuse(send, receive, status, reason, drain=size <= _DRAIN_MAX_BYTES)
        return await self.app(scope, receive, send)


_DRAIN_MAX_BYTES = 16 * limits.MB  # a refused body up to this size is read (and dropped) so the client sees the reply


async def _refuse(send, receive, status: int, reason: str, drain: bool) -> None:
    if drain:  # a client still sending its body may miss a reply sent over it
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
    body = reason.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"retry-after", b"300")]})
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------------------------------------------------
# Served files (Gradio's cache)


def sweep_cache(blocks, max_age_s: float | None, max_bytes: float | None = None, min_age_s: float = 0.0,
                now: float | None = None) -> tuple[int, int]:
    """Delete the files ``blocks`` made or received (its ``temp_file_sets``, less any kept in cache) that were last
    written or handed out more than ``max_age_s`` ago (``None``: all of them); then, while the rest take more than
    ``max_bytes``, the oldest that are older than ``min_age_s``. Returns (files deleted, bytes of those left)."""
    from gradio.utils import get_upload_folder

    now = time.time() if now is None else now
    root = Path(get_upload_folder()).resolve()
    keep = set()
    for component in list(blocks.blocks.values()):
        keep.update(getattr(component, "keep_in_cache", ()))
    removed, alive = 0, []
    for temp_set in list(blocks.temp_file_sets):
        for name in list(temp_set):  # a snapshot: request threads add to the set meanwhile
            if name in keep:
                continue
            try:
                st = os.lstat(name)
            except FileNotFoundError:
                temp_set.discard(name)
                continue
            except OSError:
                continue
            age = now - max(st.st_ctime, st.st_mtime)  # Gradio touches a cached file when it hands it out again
            if max_age_s is None or age > max_age_s:
                removed += _remove(name, temp_set, root)
            else:
                alive.append((age, st.st_size, name, temp_set))
    total = sum(size for _, size, _, _ in alive)
    if max_bytes is not None and total > max_bytes:
        for age, size, name, temp_set in sorted(alive, key=lambda item: -item[0]):
            if total <= max_bytes or age <= min_age_s:
                break
            if _remove(name, temp_set, root):
                removed += 1
                total -= size
    return removed, total


def _remove(name: str, temp_set: set, root: Path) -> int:
    try:
        os.remove(name)
    except FileNotFoundError:
        pass
    except OSError:
        return 0
    temp_set.discard(name)
    folder = Path(name).parent
    if folder.parent.resolve() == root:  # Gradio's one folder per file (named by its content): remove it if empty
        with contextlib.suppress(OSError):
            folder.rmdir()
    return 1


def sweep_once(blocks, guard: DiskGuard) -> None:
    """One round of the schedule: old served files, the oldest beyond the size cap, and old export folders."""
    from studio.library import sweep_exports

    with guard.lock:
        before = guard.cache_bytes
    removed, left = sweep_cache(blocks, limits.CACHE_MAX_AGE_S, limits.CACHE_MAX_BYTES, limits.CACHE_MIN_AGE_S)
    with guard.lock:  # uploads accepted during the sweep stay counted
        guard.cache_bytes = left + max(0, guard.cache_bytes - before)
    if guard.export_dir:
        sweep_exports(guard.export_dir, max_age_s=limits.EXPORT_MAX_AGE_S)
    if removed:
        log.info("swept %d served files; %.1f MB left", removed, left / limits.MB)


def lifespan(guard: DiskGuard, chores: tuple = ()):
    """The server's lifespan hook: the sweeper while it runs, and every ``(every_s, chore)`` of ``chores`` (a
    ``chore(blocks)`` run every ``every_s`` seconds: in a thread, or on the event loop when it is a coroutine
    function, e.g. :func:`studio.ui.sessions.session_sweeper`'s);
    everything it made deleted when it stops."""

    @contextlib.asynccontextmanager
    async def run(app):
        if guard.export_dir:
            Path(guard.export_dir).mkdir(parents=True, exist_ok=True)  # a relaunch after close

        async def every(period_s: float, chore, what: str):
            while True:
                await asyncio.sleep(period_s)
                try:
                    if asyncio.iscoroutinefunction(chore):  # runs on the server's event loop, between requests
                        await chore(app.get_blocks())
                    else:
                        await asyncio.to_thread(chore, app.get_blocks())
                except Exception:  # a failed round must not end the schedule
                    log.exception("%s failed", what)

        tasks = [asyncio.create_task(every(limits.CACHE_SWEEP_EVERY_S, lambda blocks: sweep_once(blocks, guard),
                                           "sweeping served files"))]
        tasks += [asyncio.create_task(every(period_s, chore, getattr(chore, "__name__", "a chore")))
                  for period_s, chore in chores]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                sweep_cache(app.get_blocks(), max_age_s=None)
            if guard.export_dir:
                remove_export_dir(guard.export_dir)

    return run


def app_kwargs(export_dir: str | None = None, quotas: bool = True, chores: tuple = ()) -> dict:
    """``launch(app_kwargs=...)`` for a studio server: the sweeper (and ``chores``, see :func:`lifespan`), and with
    ``quotas`` (public mode) the upload quota."""
    from starlette.middleware import Middleware

    guard = DiskGuard(export_dir)
    return dict(middleware=[Middleware(UploadQuota, guard=guard)] if quotas else [],
                lifespan=lifespan(guard, chores))


# ---------------------------------------------------------------------------------------------------------------
# Export folders


def new_export_dir() -> str:
    """A fresh export folder for this server (``<tmp>/synth-studio-exports-<pid>-*``), removed at exit; the folders
    of processes that are gone are swept first."""
    sweep_stale_export_dirs()
    path = tempfile.mkdtemp(prefix=f"{EXPORT_PREFIX}{os.getpid()}-")
    atexit.register(remove_export_dir, path)
    return path


def remove_export_dir(path: str | os.PathLike) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or not a pid we can ask about): leave its folder
    return True


def sweep_stale_export_dirs(folder: str | os.PathLike | None = None, max_age_s: float = 86400.0) -> int:
    """Remove the export folders in ``folder`` (the temp folder) whose server process is gone, and unnamed ones (from
    before folders carried a pid) untouched for ``max_age_s``. Returns how many were removed."""
    removed, now = 0, time.time()
    for path in Path(folder or tempfile.gettempdir()).glob(f"{EXPORT_PREFIX}*"):
        with contextlib.suppress(OSError):
            if not path.is_dir() or path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
            match = _EXPORT_RE.fullmatch(path.name)
            stale = not _alive(int(match.group(1))) if match else now - path.stat().st_mtime > max_age_s
            if stale:
                shutil.rmtree(path)
                removed += 1
    return removed


def exit_on_sigterm() -> None:
    """Make SIGTERM (``docker stop``, a Space restarting) stop the server as Ctrl-C does, so the sweeper's last round
    and the at-exit clean-up run (by default SIGTERM ends Python without either)."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
