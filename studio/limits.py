"""The studio's disk limits in one place: what a visitor may store or send, and how long served files are kept.

A public studio must not let one visitor fill the server's disk. The numbers (also listed in the README's public-mode
section) are sized for the studio's own use: a preset file is ~4 KB, a match target at most 10 MB, a saved sound at
the default settings (48 kHz × 2 s) ~0.2 MB and the largest (192 kHz × 30 s) 11.5 MB.
"""
from __future__ import annotations

MB = 1024 * 1024

# -- Saved sounds in public mode (studio.library) -----------------------------------------------------------------
PUBLIC_MAX_SOUNDS = 200  # sounds in one browser's library
PUBLIC_MAX_SESSION_BYTES = 100 * MB  # files in one browser's library (200 default sounds take ~40 MB)
PUBLIC_MAX_TOTAL_BYTES = 2048 * MB  # all browsers' libraries together
PUBLIC_MAX_SESSIONS = 1000  # browser libraries (session folders) on the server
LIBRARY_RECOUNT_S = 30.0  # the total above is recounted from the disk at most this often (and kept up by saves)

# -- Uploads (POST /gradio_api/upload and every other multipart request; studio.ui.disk) ---------------------------
UPLOAD_WINDOW_S = 600.0  # the quotas below count what arrived in the last 10 minutes
UPLOAD_CLIENT_MAX_BYTES = 50 * MB  # per client (IP address) and window: five full-size match targets
UPLOAD_CLIENT_MAX_REQUESTS = 300  # per client and window: one upload every two seconds
UPLOAD_TOTAL_MAX_BYTES = 500 * MB  # all clients together, per window
TRUST_PROXY_ENV = "SYNTH_STUDIO_TRUST_PROXY"  # "1": the client is the last X-Forwarded-For address (on inside a Space)

# -- Files the server hands out (Gradio's cache: players, pictures, downloads, uploads; studio.ui.disk) -----------
CACHE_SWEEP_EVERY_S = 60.0  # how often served files are swept
CACHE_MAX_AGE_S = 600.0  # a file is deleted 10 minutes after it was last written or handed out
CACHE_MAX_BYTES = 2048 * MB  # beyond this the oldest files go early, and uploads are refused until it is back under
CACHE_MIN_AGE_S = 120.0  # ... but never a file handed out in the last 2 minutes (it may still be being fetched)
EXPORT_MAX_AGE_S = 600.0  # "Export WAV + preset" folders are deleted after 10 minutes

# -- Memory of sessions (Gradio keeps ~1 MB per session hash it has seen; studio.ui.sessions) ----------------------
SESSION_SWEEP_EVERY_S = 5.0  # how often sessions that are gone are looked for
PUBLIC_SESSION_IDLE_S = 15.0  # public: a session with no open page and nothing running is forgotten after this
SESSION_IDLE_S = 600.0  # one person's studio: the same after 10 minutes
SESSION_RECLAIM_EVERY_S = 30.0  # their memory is collected at most this often (a full collection stops the server)

# -- Requests and long jobs per address in public mode (studio.ui.http.RateLimit, studio.ui.jobs) -----------------
# Every POST (queue joins, API calls, uploads) is charged to its address (studio.ui.disk.client_key) from a token
# bucket: a page load sends ~10, a knob release ~4, so a visitor never meets it; a flood is refused with HTTP 429.
EVENT_BURST = 60  # POSTs one address may send at once
EVENT_RATE_PER_S = 10.0  # ... and then per second
EVENT_QUEUED_PER_ADDRESS = 8  # events one address may have waiting in Gradio's queue (64 places, shared by everyone)
NEW_SESSION_BURST = 10  # new sessions (pages, API clients) one address may start at once ...
NEW_SESSIONS_PER_MIN = 30.0  # ... and then a minute (each costs the server a ~1 MB copy of the page, built on its
#                             event loop: one address starting 10 a second stalled every other visitor's events)
EVENT_RUNNING_PER_ADDRESS = 8  # ... and running (Gradio runs 40 events at once in all; a page runs 1–3 at a time)
RATE_LIMIT_MAX_CLIENTS = 10_000  # addresses remembered; idle (full) buckets are forgotten beyond this
PUBLIC_CLIENT_LONG_JOBS = 3  # long jobs one address may have running or waiting, whatever its pages (sessions)
