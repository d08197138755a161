"""Accounts, passwords, API tokens, unit scoping and the audit log (signing in, with its
delays after wrong passwords, is `robocall.users.login`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.db import utcnow
from robocall.units.models import UnitLevel
from robocall.units.service import descendant_ids, get_by_code
from robocall.users.models import ApiToken, AuditEntry, Role, User

MIN_PASSWORD_LENGTH = 12  # characters
_USERNAME = re.compile(r"^[a-z0-9._-]{3,64}$")
# The unit level each role must be attached to (admin: any or none; viewer: any).
ROLE_UNIT_LEVEL: dict[Role, UnitLevel | None] = {
    Role.admin: None,
    Role.district: UnitLevel.district,
    Role.commune: UnitLevel.commune,
    Role.viewer: None,
}
_hasher = PasswordHasher()


class UserError(ValueError):
    """A request about users that cannot be done; the message says which field and why."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` is the one hashed: one argon2 run (64 MiB, ~0.1-0.3 s of CPU)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def dummy_password_hash() -> str:
    """A hash no password is known for, made with the current parameters: checking a password
    against it costs what checking a real account's does, so an unknown username answers in
    the same time as a known one."""
    return _hasher.hash(secrets.token_urlsafe(32))


def generate_password() -> str:
    """A password a person can type: four groups of four letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def create_user(
    *,
    db_session: Session,
    username: str,
    role: Role,
    unit_code: str | None,
    password: str,
    full_name: str = "",
) -> User:
    """Create a staff account attached to a unit that fits its role."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise UserError("username: 3-64 characters: letters, digits, '.', '_' or '-'")
    if db_session.scalar(select(User.id).where(User.username == name)) is not None:
        raise UserError(f"username: {name!r} already exists")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    unit = None
    if unit_code:
        unit = get_by_code(db_session=db_session, code=unit_code)
        if unit is None:
            raise UserError(f"unit: no unit with code {unit_code!r}")
    elif role is not Role.admin:
        raise UserError(f"unit: a {role.value} user needs --unit")
    needed = ROLE_UNIT_LEVEL[role]
    if needed is not None and unit is not None and unit.level is not needed:
        raise UserError(
            f"unit: a {role.value} user belongs to a {needed.value}; "
            f"{unit.code} is a {unit.level.value}"
        )
    user = User(
        username=name,
        full_name=full_name.strip(),
        role=role,
        unit_id=unit.id if unit else None,
        password_hash=hash_password(password),
    )
    db_session.add(user)
    db_session.flush()
    return user


def get_by_username(*, db_session: Session, username: str) -> User | None:
    """Get a user by username (case-insensitive)."""
    return db_session.scalar(select(User).where(User.username == username.strip().lower()))


def set_password(
    *, db_session: Session, user: User, password: str, now: dt.datetime | None = None
) -> int:
    """Change a password: existing sessions end and the user's API tokens are revoked (a
    password is changed when it may be known to someone else, who may have made a token
    with it). The number of tokens revoked."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    user.session_version += 1
    return revoke_user_tokens(db_session=db_session, user=user, now=now)


def deactivate_user(*, db_session: Session, user: User, now: dt.datetime | None = None) -> int:
    """Close an account: signed out everywhere, its API tokens revoked (activating it again
    does not bring them back). The number of tokens revoked."""
    user.is_active = False
    user.session_version += 1
    return revoke_user_tokens(db_session=db_session, user=user, now=now)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    *,
    db_session: Session,
    user: User,
    name: str,
    days: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """A new API token for scripts, working for `days` (default ROBOCALL_API_TOKEN_DAYS); only
    its hash is stored, so it is shown once."""
    now = now or utcnow()
    lifetime = dt.timedelta(days=days or get_settings().api_token_days)
    token = "rc_" + secrets.token_urlsafe(32)
    db_session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    db_session.flush()
    return token


def user_for_token(
    *, db_session: Session, token: str, now: dt.datetime | None = None, touch: bool = True
) -> User | None:
    """The active user an API token belongs to, or None when it is unknown, expired or
    revoked; `touch` records the use (off for a check that is not itself the use)."""
    now = now or utcnow()
    api_token = db_session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
    )
    if api_token is None or not api_token.user.is_active:
        return None
    if touch:
        api_token.last_used_at = now
    return api_token.user


def list_api_tokens(
    *, db_session: Session, user: User | None = None, live_at: dt.datetime | None = None
) -> list[ApiToken]:
    """API tokens, newest first: a user's (or everyone's); with `live_at`, only those neither
    revoked nor expired then."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    if live_at is not None:
        query = query.where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > live_at)
    return list(db_session.scalars(query))


def revoke_api_token(
    *, db_session: Session, token_id: int, now: dt.datetime | None = None
) -> ApiToken | None:
    """Revoke one token by its id (a revoked one stays as it was); None when there is none."""
    api_token = db_session.get(ApiToken, token_id)
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = now or utcnow()
    return api_token


def revoke_user_tokens(*, db_session: Session, user: User, now: dt.datetime | None = None) -> int:
    """Revoke every token of the user not yet revoked; how many."""
    result = db_session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Scope:
    """What a user may see: every unit (None) or these unit ids."""

    unit_ids: frozenset[int] | None

    def allows(self, unit_id: int | None) -> bool:
        if self.unit_ids is None:
            return True
        return unit_id is not None and unit_id in self.unit_ids


def scope_of(*, db_session: Session, user: User) -> Scope:
    """The units a user sees: admin everything, others their unit and the units below it."""
    if user.role is Role.admin and user.unit_id is None:
        return Scope(None)
    if user.unit_id is None:
        return Scope(frozenset())
    return Scope(frozenset(descendant_ids(db_session=db_session, unit_id=user.unit_id)))


def can_change(user: User) -> bool:
    """Whether the user may change things (import, start campaigns, acknowledge reports)."""
    return user.role is not Role.viewer


# The client address of the web request being served (set by the web app's ClientAddress
# middleware), for audit entries written while serving it: "from where" must not depend on
# each caller remembering to pass it. None in the CLI and in jobs.
request_client_ip: ContextVar[str | None] = ContextVar("request_client_ip", default=None)

AUDIT_IDS_KEPT = 500  # ids of the rows a list showed, kept in its audit entry


def record_audit(
    *,
    db_session: Session,
    user: User | None,
    action: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    unit_id: int | None = None,
    detail: dict[str, Any] | None = None,
    client_ip: str | None = None,
) -> AuditEntry:
    """Write one audit entry in the caller's transaction (from the request's client address
    when `client_ip` is not given)."""
    entry = AuditEntry(
        user_id=user.id if user else None,
        username=user.username if user else "system",
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        unit_id=unit_id,
        detail=detail or {},
        client_ip=client_ip if client_ip is not None else request_client_ip.get(),
    )
    db_session.add(entry)
    return entry


def rows_shown(ids: list[int], **filters: Any) -> dict[str, Any]:
    """An audit entry's detail for a list that was read: its filters, how many rows it
    returned and their ids (the first AUDIT_IDS_KEPT), so "who saw this person" has an answer."""
    return {**filters, "returned": len(ids), "ids": ids[:AUDIT_IDS_KEPT]}


@dataclass(frozen=True)
class AuditFilter:
    """Which audit entries to list; None is any."""

    username: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: dt.datetime | None = None  # from this moment on
    before: dt.datetime | None = None  # up to, not including, this moment


def list_audit(
    *, db_session: Session, filters: AuditFilter | None = None, limit: int = 200
) -> list[AuditEntry]:
    """The newest audit entries first, those `filters` asks for."""
    query = select(AuditEntry)
    f = filters or AuditFilter()
    if f.username:
        query = query.where(AuditEntry.username == f.username.strip().lower())
    if f.action:
        query = query.where(AuditEntry.action == f.action)
    if f.object_type:
        query = query.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        query = query.where(AuditEntry.object_id == f.object_id.strip())
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.before is not None:
        query = query.where(AuditEntry.at < f.before)
    return list(db_session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def audit_choices(*, db_session: Session) -> tuple[list[str], list[str]]:
    """The actions and the object types the audit log holds, for the page's filters."""
    actions = db_session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    kinds = db_session.scalars(
        select(AuditEntry.object_type)
        .where(AuditEntry.object_type.is_not(None))
        .distinct()
        .order_by(AuditEntry.object_type)
    )
    return list(actions), [k for k in kinds if k]
