"""Accounts, passwords, lock-out, API tokens, unit scoping and the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.db import utcnow
from robocall.units.models import UnitLevel
from robocall.units.service import descendant_ids, get_by_code
from robocall.users.models import ApiToken, AuditEntry, Role, User

MAX_FAILED_LOGINS = 5  # consecutive wrong passwords before the account locks
LOCKOUT = dt.timedelta(minutes=15)
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


class LoginRefused(Exception):
    """Wrong username or password, or the account is locked; `locked_until` says which."""

    def __init__(self, locked_until: dt.datetime | None = None) -> None:
        super().__init__("locked" if locked_until else "wrong username or password")
        self.locked_until = locked_until


def hash_password(password: str) -> str:
    return _hasher.hash(password)


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


def authenticate(
    *, db_session: Session, username: str, password: str, now: dt.datetime | None = None
) -> User:
    """The user whose password this is, or LoginRefused (counting towards the lock-out)."""
    now = now or utcnow()
    user = get_by_username(db_session=db_session, username=username)
    if user is None or not user.is_active:
        _hasher.hash(password)  # the same work as a real check: no timing hint
        raise LoginRefused()
    _check_password(user, password, now)
    user.last_login_at = now
    return user


def _check_password(user: User, password: str, now: dt.datetime) -> None:
    """LoginRefused unless `password` is the user's; a wrong one counts towards the lock-out."""
    if user.locked_until is not None and user.locked_until > now:
        raise LoginRefused(locked_until=user.locked_until)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            raise LoginRefused(locked_until=user.locked_until) from None
        raise LoginRefused() from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def set_password(*, db_session: Session, user: User, password: str) -> None:
    """Change a password; existing sessions end."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    user.session_version += 1
    user.locked_until = None
    user.failed_logins = 0


def change_own_password(
    *,
    db_session: Session,
    user: User,
    current_password: str,
    new_password: str,
    now: dt.datetime | None = None,
) -> None:
    """A user's change of their own password: UserError for a new one too short, LoginRefused
    for a wrong current one (counted towards the lock-out, as at sign-in); then every session
    of the user ends (`set_password`)."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    _check_password(user, current_password, now or utcnow())
    set_password(db_session=db_session, user=user, password=new_password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(*, db_session: Session, user: User, name: str) -> str:
    """A new API token for scripts; only its hash is stored, so it is shown once."""
    token = "rc_" + secrets.token_urlsafe(32)
    db_session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token)))
    db_session.flush()
    return token


def user_for_token(*, db_session: Session, token: str) -> User | None:
    """The active user an API token belongs to, or None."""
    api_token = db_session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None)
        )
    )
    if api_token is None or not api_token.user.is_active:
        return None
    api_token.last_used_at = utcnow()
    return api_token.user


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
    """Write one audit entry in the caller's transaction."""
    entry = AuditEntry(
        user_id=user.id if user else None,
        username=user.username if user else "system",
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        unit_id=unit_id,
        detail=detail or {},
        client_ip=client_ip,
    )
    db_session.add(entry)
    return entry


def list_audit(*, db_session: Session, limit: int = 200) -> list[AuditEntry]:
    """The newest audit entries first."""
    return list(db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
