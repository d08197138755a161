"""Signing in: every username costs the same password check, and wrong passwords slow the
next tries by account and by client address, never locking an account.

An account's wrong passwords slow only the addresses they came from: someone guessing from
elsewhere cannot keep the account's owner out, and the delays stop growing at MAX_DELAY, so
no one can hold an account closed. The counts live in Redis, shared by every uvicorn worker,
and are forgotten FORGET_AFTER the last try.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import anyio
import redis
from sqlalchemy.orm import Session

from robocall.db import utcnow
from robocall.users.models import User
from robocall.users.service import (
    MIN_PASSWORD_LENGTH,
    UserError,
    dummy_password_hash,
    get_by_username,
    hash_password,
    needs_rehash,
    set_password,
    verify_password,
)
from robocall.workers.connection import get_redis

ACCOUNT_FREE_FAILURES = 5  # wrong passwords for one account before its tries are slowed
# Wrong passwords from one address, for any accounts, before its tries are slowed: a health
# station's staff may share one address.
ADDRESS_FREE_FAILURES = 10
FIRST_DELAY = 1.0  # seconds to wait after the first failure past the free ones; then doubled
MAX_DELAY = 300.0  # seconds: the longest wait
FORGET_AFTER = 3600  # seconds after the last try
# argon2 checks at once in a process: each takes 64 MiB and a core for ~0.1-0.3 s,
# and the server has two cores; others wait their turn without holding a worker thread.
PASSWORD_CHECKS_AT_ONCE = 2
USERNAME_MAX = 64  # characters, as the column

# The time the delays are judged by; tests replace it.
clock: Callable[[], dt.datetime] = utcnow

_KEY = "robocall:login"

# Judge and count a try in one step, so tries sent at once cannot all pass before any counts.
# KEYS: the account's hash, the address's hash. ARGV: now (epoch seconds), the address,
# ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES, FIRST_DELAY, MAX_DELAY, FORGET_AFTER.
# Each hash holds n (tries counted) and t (when the last was); the account's also holds
# "a:<address>", the tries counted from that address. Returns the seconds to wait, "0" when
# the try is counted and may go ahead.
_RESERVE = """
local now = tonumber(ARGV[1])
local here = 'a:' .. ARGV[2]
local first, cap, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local function wait(key, free)
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  if n < free then return 0 end
  local last = tonumber(redis.call('HGET', key, 't') or '0')
  return math.max(0, last + math.min(first * 2 ^ (n - free), cap) - now)
end
local w = wait(KEYS[2], tonumber(ARGV[4]))
if tonumber(redis.call('HGET', KEYS[1], here) or '0') > 0 then
  w = math.max(w, wait(KEYS[1], tonumber(ARGV[3])))
end
if w > 0 then return tostring(w) end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 't', ARGV[1])
  redis.call('EXPIRE', key, ttl)
end
redis.call('HINCRBY', KEYS[1], here, 1)
return '0'
"""

# A try that succeeded was not a failure: take back its count, and the address's failures
# for the account. KEYS as above; ARGV: the address.
_SUCCEEDED = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('HGET', key, 'n') or '0') > 0 then
    redis.call('HINCRBY', key, 'n', -1)
  end
end
redis.call('HDEL', KEYS[1], 'a:' .. ARGV[1])
return 0
"""


class LoginRefused(Exception):
    """Wrong username or password, or (`retry_after` seconds) too many tries to judge one now."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("too many tries" if retry_after else "wrong username or password")
        self.retry_after = retry_after


def _account_key(username: str) -> str:
    # Hashed: the key has one length whatever was typed as a username.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"{_KEY}:account:{digest}"


def _address_key(address: str) -> str:
    return f"{_KEY}:address:{address}"


@dataclass(frozen=True)
class LoginThrottle:
    """The sign-in delays, in Redis."""

    redis: redis.Redis

    @classmethod
    def shared(cls) -> LoginThrottle:
        return cls(get_redis())

    def reserve(self, *, username: str, address: str | None, now: dt.datetime) -> float:
        """Seconds this try must wait (it is not judged), or 0: counted as a failure until
        `succeeded` says otherwise."""
        where = address or "unknown"
        keys = [_account_key(username), _address_key(where)]
        args = [
            repr(now.timestamp()),
            where,
            ACCOUNT_FREE_FAILURES,
            ADDRESS_FREE_FAILURES,
            FIRST_DELAY,
            MAX_DELAY,
            FORGET_AFTER,
        ]
        wait = self.redis.register_script(_RESERVE)(keys=keys, args=args)
        return float(wait)

    def succeeded(self, *, username: str, address: str | None) -> None:
        where = address or "unknown"
        keys = [_account_key(username), _address_key(where)]
        self.redis.register_script(_SUCCEEDED)(keys=keys, args=[where])

    def failures(self, username: str) -> int:
        """Wrong passwords for the account still remembered."""
        return int(self.redis.hget(_account_key(username), "n") or 0)

    def slowed(self, usernames: Iterable[str]) -> set[str]:
        """Those of the accounts whose failing addresses are being slowed."""
        names = list(usernames)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hget(_account_key(name), "n")
        counts = pipe.execute()
        slowed = zip(names, counts, strict=True)
        return {name for name, count in slowed if int(count or 0) >= ACCOUNT_FREE_FAILURES}

    def clear(self, username: str) -> None:
        """Forget the account's failures (an administrator's "unlock")."""
        self.redis.delete(_account_key(username))


@dataclass(frozen=True)
class LoginCandidate:
    """A sign-in judged by the throttle, waiting for its password check."""

    username: str  # as looked up: trimmed, lower-case
    user_id: int | None  # None: no active account of that name
    password_hash: str  # the account's, or `dummy_password_hash()`: the same work either way


def begin_login(
    *,
    db_session: Session,
    username: str,
    address: str | None,
    now: dt.datetime | None = None,
    throttle: LoginThrottle | None = None,
) -> LoginCandidate:
    """Count the try (LoginRefused with `retry_after` when it must wait) and find the
    account. The delays depend on the name typed, never on whether the account exists."""
    name = username.strip().lower()
    wait = (throttle or LoginThrottle.shared()).reserve(
        username=name, address=address, now=now or clock()
    )
    if wait > 0:
        raise LoginRefused(retry_after=wait)
    user = None
    if len(name) <= USERNAME_MAX:  # a longer name is no account's: not worth a query
        user = get_by_username(db_session=db_session, username=name)
    if user is None:
        return LoginCandidate(name, None, dummy_password_hash())
    # An inactive account's own hash is checked too, and then refused as an unknown one is.
    return LoginCandidate(name, user.id if user.is_active else None, user.password_hash)


def password_matches(candidate: LoginCandidate, password: str) -> bool:
    """One argon2 check, whether or not the account exists."""
    matches = verify_password(candidate.password_hash, password)
    return matches and candidate.user_id is not None


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)
_limiters_lock = threading.Lock()


def _checks_limiter() -> anyio.CapacityLimiter:
    # One per event loop: a limiter belongs to the loop it was made in (a server has one; the
    # tests' clients run several).
    loop = asyncio.get_running_loop()
    with _limiters_lock:
        limiter = _limiters.get(loop)
        if limiter is None:
            limiter = _limiters[loop] = anyio.CapacityLimiter(PASSWORD_CHECKS_AT_ONCE)
        return limiter


async def password_matches_off_loop(candidate: LoginCandidate, password: str) -> bool:
    """`password_matches` in a worker thread, PASSWORD_CHECKS_AT_ONCE at most: the event loop
    and the other requests' threads go on (a burst of sign-ins cannot stall /healthz)."""
    check = partial(password_matches, candidate, password)
    return await anyio.to_thread.run_sync(check, limiter=_checks_limiter())


def finish_login(
    *,
    db_session: Session,
    candidate: LoginCandidate,
    matched: bool,
    password: str,
    address: str | None,
    now: dt.datetime | None = None,
    throttle: LoginThrottle | None = None,
) -> User:
    """The signed-in user, or LoginRefused (the try stays counted as a failure)."""
    user = db_session.get(User, candidate.user_id) if matched else None
    if user is None or not user.is_active:
        raise LoginRefused()
    (throttle or LoginThrottle.shared()).succeeded(username=candidate.username, address=address)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    return user


def authenticate(
    *,
    db_session: Session,
    username: str,
    password: str,
    address: str | None = None,
    now: dt.datetime | None = None,
    throttle: LoginThrottle | None = None,
) -> User:
    """The user whose password this is, or LoginRefused; in one thread (the web app's sign-in
    checks the password off its event loop instead)."""
    candidate = begin_login(
        db_session=db_session, username=username, address=address, now=now, throttle=throttle
    )
    return finish_login(
        db_session=db_session,
        candidate=candidate,
        matched=password_matches(candidate, password),
        password=password,
        address=address,
        now=now,
        throttle=throttle,
    )


def change_own_password(
    *,
    db_session: Session,
    user: User,
    current_password: str,
    new_password: str,
    address: str | None = None,
    now: dt.datetime | None = None,
    throttle: LoginThrottle | None = None,
) -> int:
    """A user's change of their own password: UserError for a new one too short, LoginRefused
    for a wrong current one (slowed as sign-in is); then every session of the user ends and
    their API tokens are revoked (`set_password`; how many)."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    throttle = throttle or LoginThrottle.shared()
    wait = throttle.reserve(username=user.username, address=address, now=now or clock())
    if wait > 0:
        raise LoginRefused(retry_after=wait)
    if not verify_password(user.password_hash, current_password):
        raise LoginRefused()
    throttle.succeeded(username=user.username, address=address)
    return set_password(db_session=db_session, user=user, password=new_password, now=now)
