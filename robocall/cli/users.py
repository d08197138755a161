"""`robocall users`: staff accounts and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from robocall.commandline import console, fail, prepare_database
from robocall.db import session_scope, utcnow
from robocall.users.models import Role, User
from robocall.users.service import (
    UserError,
    create_api_token,
    create_user,
    generate_password,
    get_by_username,
    list_api_tokens,
    record_audit,
    revoke_api_token,
    set_password,
)

app = typer.Typer(help="Users, roles and units.", no_args_is_help=True)


def _ask_password() -> tuple[str, bool]:
    """A typed password on a terminal (asked twice); otherwise a generated one."""
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return str(password), False
    return generate_password(), True


def _fail(message: str) -> typer.Exit:
    return fail(message, 2)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ -).")],
    role: Annotated[Role, typer.Option(help="admin, district, commune or viewer.")],
    unit: Annotated[
        str | None, typer.Option(help="Code of the user's unit (not needed for admin).")
    ] = None,
    full_name: Annotated[str, typer.Option(help="The person's name.")] = "",
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate the password and print it once.")
    ] = False,
) -> None:
    """Add a user; the password is asked, or generated and printed once."""
    prepare_database()
    password, generated = (generate_password(), True) if generate else _ask_password()
    try:
        with session_scope() as session:
            user = create_user(
                db_session=session,
                username=username,
                role=role,
                unit_code=unit,
                password=password,
                full_name=full_name,
            )
            record_audit(
                db_session=session,
                user=None,
                action="user.add",
                object_type="user",
                object_id=user.id,
                unit_id=user.unit_id,
                detail={"username": user.username, "role": role.value},
            )
    except UserError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"user {username.lower()} added as {role.value}" + (f" of {unit}" if unit else "")
    )
    if generated:
        console.print(f"password (shown once): {password}", highlight=False)


@app.command("list")
def list_users() -> None:
    """List the users."""
    prepare_database()
    table = Table("username", "role", "unit", "active")
    with session_scope() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            table.add_row(
                user.username,
                user.role.value,
                user.unit.code if user.unit else "",
                "yes" if user.is_active else "no",
            )
    console.print(table)


@app.command("password")
def password(username: Annotated[str, typer.Argument()]) -> None:
    """Set a new password (asked, or generated and printed once); signs the user out
    everywhere and revokes their API tokens."""
    prepare_database()
    new_password, generated = _ask_password()
    try:
        with session_scope() as session:
            user = get_by_username(db_session=session, username=username)
            if user is None:
                raise UserError(f"username: no user {username!r}")
            revoked = set_password(db_session=session, user=user, password=new_password)
            record_audit(
                db_session=session,
                user=None,
                action="user.password",
                object_type="user",
                object_id=user.id,
                detail={"tokens_revoked": revoked},
            )
    except UserError as exc:
        raise _fail(str(exc)) from None
    console.print(f"password of {username} changed; API tokens revoked: {revoked}")
    if generated:
        console.print(f"password (shown once): {new_password}", highlight=False)


@app.command("token")
def token(
    username: Annotated[str | None, typer.Argument(help="Whose token.")] = None,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "script",
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Days it works (default: ROBOCALL_API_TOKEN_DAYS, 90)."),
    ] = None,
    list_tokens: Annotated[
        bool, typer.Option("--list", help="List the user's tokens instead of making one.")
    ] = False,
    revoke: Annotated[
        int | None, typer.Option(help="Revoke the token with this id (from --list).")
    ] = None,
) -> None:
    """Create an API token (Authorization: Bearer) for a user, printed once; or list a user's
    tokens (--list USERNAME), or revoke one (--revoke ID)."""
    prepare_database()
    if revoke is not None:
        _revoke_token(revoke)
        return
    if username is None:
        raise _fail("give a USERNAME (or --revoke ID)")
    if list_tokens:
        _list_tokens(username)
        return
    with session_scope() as session:
        user = get_by_username(db_session=session, username=username)
        if user is None:
            raise _fail(f"username: no user {username!r}")
        value = create_api_token(db_session=session, user=user, name=name, days=days)
        record_audit(
            db_session=session,
            user=None,
            action="user.token",
            object_type="user",
            object_id=user.id,
            detail={"name": name},
        )
    # Never wrapped: the token is copied from the terminal.
    console.print(
        f"API token for {user.username} (shown once): {value}", highlight=False, soft_wrap=True
    )


def _list_tokens(username: str) -> None:
    now = utcnow()
    table = Table("id", "name", "created", "expires", "last used", "state")
    with session_scope() as session:
        user = get_by_username(db_session=session, username=username)
        if user is None:
            raise _fail(f"username: no user {username!r}")
        for api_token in list_api_tokens(db_session=session, user=user):
            if api_token.revoked_at is not None:
                state = f"revoked {api_token.revoked_at:%Y-%m-%d %H:%M}"
            elif api_token.expires_at <= now:
                state = "expired"
            else:
                state = "in use"
            table.add_row(
                str(api_token.id),
                api_token.name,
                f"{api_token.created_at:%Y-%m-%d %H:%M}",
                f"{api_token.expires_at:%Y-%m-%d %H:%M}",
                f"{api_token.last_used_at:%Y-%m-%d %H:%M}" if api_token.last_used_at else "",
                state,
            )
    console.print(table)


def _revoke_token(token_id: int) -> None:
    with session_scope() as session:
        api_token = revoke_api_token(db_session=session, token_id=token_id)
        if api_token is None:
            raise _fail(f"no API token {token_id}")
        record_audit(
            db_session=session,
            user=None,
            action="user.token_revoke",
            object_type="api_token",
            object_id=api_token.id,
            unit_id=api_token.user.unit_id,
            detail={"username": api_token.user.username, "name": api_token.name},
        )
        owner = api_token.user.username
    console.print(f"API token {token_id} of {owner} revoked")
