"""Webhook requests from the simulated network to robocall, signed as Twilio signs them,
and the transcript every simulated call keeps.

The network calls the URLs robocall gave it (answer URL, status callback, Gather action, ...).
Those are public addresses (ROBOCALL_PUBLIC_URL); the simulator signs the public URL and
delivers the request to the app: in-process through ASGI, or to `--app-url` over HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from robocall.telephony.signature import compute_signature
from robocall.workers.connection import REDIS_DOWN

log = logging.getLogger(__name__)

# Twilio waits this long for a webhook answer (seconds).
WEBHOOK_TIMEOUT_SECONDS = 15.0

# Transcripts outlive the simulated call for a week (seconds).
TRANSCRIPT_TTL_SECONDS = 7 * 24 * 3600


class WebhookTimeout(Exception):
    """The app did not answer in time."""


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    text: str
    content_type: str


CLOSE_WAIT_SECONDS = 30.0  # how long closing waits for requests the app is still answering


class WebhookDelivery:
    """Sends signed webhook requests to robocall (in-process app, `app_url`, or the URL)."""

    def __init__(
        self,
        *,
        auth_token: str,
        app: Any = None,
        app_url: str | None = None,
        timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS,
    ) -> None:
        self._auth_token = auth_token
        self._app = app
        self._app_url = app_url.rstrip("/") if app_url else None
        self._timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None
        # Requests still being answered, whether or not the network still waits for them.
        self._in_flight: set[asyncio.Task[httpx.Response]] = set()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            if self._app is not None:
                transport = httpx.ASGITransport(app=self._app)
                self._client = httpx.AsyncClient(transport=transport, base_url="http://app")
            else:
                self._client = httpx.AsyncClient()
        return self._client

    def _settled(self, request: asyncio.Task[httpx.Response]) -> None:
        self._in_flight.discard(request)
        if not request.cancelled():
            request.exception()  # retrieved: an answer nobody waited for is not an error

    async def close(self) -> None:
        # As a real server would, the app finishes what it was asked even when the network
        # stopped waiting (a timeout, or the simulator shutting down): a request cut off
        # halfway would leave its database transaction open.
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=CLOSE_WAIT_SECONDS)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self, method: str, url: str, params: Mapping[str, str], *, force_timeout: bool = False
    ) -> WebhookAnswer:
        """Request `url` as Twilio would: signed, form-encoded (POST) or in the query (GET)."""
        method = method.upper()
        if method == "GET":
            separator = "&" if "?" in url else "?"
            signed_url = f"{url}{separator}{urlencode(params)}" if params else url
            signature = compute_signature(self._auth_token, signed_url, {})
            body: dict[str, str] | None = None
        else:
            signed_url = url
            signature = compute_signature(self._auth_token, url, params)
            body = dict(params)
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
        }
        target = self._target(signed_url)
        request = asyncio.ensure_future(
            self._http().request(method, target, data=body, headers=headers)
        )
        self._in_flight.add(request)
        request.add_done_callback(self._settled)
        try:
            # Shielded: giving up waiting does not cut the app's work short (see `close`).
            response = await asyncio.wait_for(asyncio.shield(request), timeout=self._timeout)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise WebhookTimeout(f"no answer within {self._timeout:g} s") from exc
        if force_timeout:
            # The app did the work, but too late for the network: its answer is lost.
            raise WebhookTimeout(f"no answer within {self._timeout:g} s (fault)")
        return WebhookAnswer(
            response.status_code, response.text, response.headers.get("content-type", "")
        )

    def _target(self, url: str) -> str:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if self._app is not None:
            return path
        if self._app_url:
            return self._app_url + path
        return url


def absolute_url(base: str, url: str) -> str:
    """A TwiML URL (maybe relative) resolved against the document it appeared in."""
    return urljoin(base, url)


SKIP = 1.0  # seconds transcript lines are dropped after Redis was found unreachable
FLUSH_EVERY = 0.05  # seconds between two batches of transcript lines written to Redis


def _failing_fast(client: Any) -> Any:
    """The same server without the client's retries: the simulated calls never wait on Redis."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return client
    options = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    options.setdefault("socket_connect_timeout", 0.5)
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **options)
    )


class Transcripts:
    """Per-call transcripts in Redis, so any process (CLI, API) can read them.

    Lines are written by a thread of their own, a batch every FLUSH_EVERY seconds in one
    pipeline: the simulated calls never wait on Redis. `get` writes what is waiting first.
    """

    def __init__(self, redis: Any) -> None:
        self._redis = _failing_fast(redis)
        self._started: dict[str, dt.datetime] = {}  # each live call's first line
        self._skip_until = 0.0  # monotonic seconds: Redis was unreachable, lines are dropped
        self._waiting: list[tuple[str, str]] = []  # (key, line) not yet in Redis, in order
        self._lock = threading.Lock()  # guards _waiting and _writer
        self._writing = threading.Lock()  # one batch at a time, so lines stay in order
        self._writer: threading.Thread | None = None

    @staticmethod
    def _key(call_sid: str) -> str:
        return f"robocall:simulator:transcript:{call_sid}"

    def begin(self, call_sid: str, kind: str, text: str, **details: Any) -> None:
        """A new call's first line."""
        self._started[call_sid] = dt.datetime.now(dt.UTC)
        self.add(call_sid, kind, text, **details)

    def add(self, call_sid: str, kind: str, text: str, **details: Any) -> None:
        """Append one line: what was said, played, pressed, or which callback got which answer."""
        at = dt.datetime.now(dt.UTC)
        key = self._key(call_sid)
        if time.monotonic() < self._skip_until:
            return
        started = self._started.get(call_sid)
        if started is None:  # a call this process did not begin
            self.flush()
            try:
                first = self._redis.lindex(key, 0)
            except REDIS_DOWN:
                first = None
            started = dt.datetime.fromisoformat(json.loads(first)["at"]) if first else at
            self._started[call_sid] = started
        entry = {
            "at": at.isoformat(timespec="milliseconds"),
            "elapsed": round((at - started).total_seconds(), 3),  # seconds since the first line
            "kind": kind,
            "text": text,
            **{k: v for k, v in details.items() if v is not None},
        }
        with self._lock:
            self._waiting.append((key, json.dumps(entry, ensure_ascii=False)))
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_batches, name="transcripts", daemon=True
                )
                self._writer.start()

    def _write_batches(self) -> None:
        """The writer thread: a batch every FLUSH_EVERY seconds; it ends once none waits."""
        while True:
            time.sleep(FLUSH_EVERY)
            self.flush()
            with self._lock:
                if not self._waiting:
                    self._writer = None
                    return

    def flush(self) -> None:
        """Write the waiting lines now."""
        with self._writing:
            with self._lock:
                batch, self._waiting = self._waiting, []
            if not batch:
                return
            pipe = self._redis.pipeline(transaction=False)
            for key, line in batch:
                pipe.rpush(key, line)
            for key in dict.fromkeys(key for key, _ in batch):
                pipe.expire(key, TRANSCRIPT_TTL_SECONDS)
            try:
                pipe.execute()
            except REDIS_DOWN as exc:
                # A transcript is for reading afterwards; the simulated call goes on without it.
                log.warning("transcript lines lost for %.0f s: Redis unreachable (%s)", SKIP, exc)
                self._skip_until = time.monotonic() + SKIP

    def close(self, call_sid: str) -> None:
        """The call is over: forget its start time (its lines stay in Redis)."""
        self._started.pop(call_sid, None)

    def get(self, call_sid: str) -> list[dict[str, Any]]:
        """Every line of a call's transcript, in order ([] if unknown)."""
        self.flush()
        return [json.loads(raw) for raw in self._redis.lrange(self._key(call_sid), 0, -1)]


def format_transcript(lines: list[dict[str, Any]]) -> str:
    """A transcript as text, one line per entry."""
    out = []
    for line in lines:
        extra = ""
        if "answer" in line:
            extra = f"  → {line['answer']}"
        out.append(f"{line['elapsed']:8.2f}s  {line['kind']:<9} {line['text']}{extra}")
    return "\n".join(out)
