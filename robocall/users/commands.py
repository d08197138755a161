"""`robocall users`: staff accounts and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from robocall.db import session_scope
from robocall.users.models import Role, User
from robocall.users.service import (
    UserError,
    create_api_token,
    create_user,
    generate_password,
    get_by_username,
    record_audit,
    set_password,
)

app = typer.Typer(help="Users, roles and units.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _ask_password() -> tuple[str, bool]:
    """A typed password on a terminal (asked twice); otherwise a generated one."""
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return str(password), False
    return generate_password(), True


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


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
    from robocall.cli import _prepare_database

    _prepare_database()
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
    from robocall.cli import _prepare_database

    _prepare_database()
    table = Table("username", "role", "unit", "active", "locked until")
    with session_scope() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            table.add_row(
                user.username,
                user.role.value,
                user.unit.code if user.unit else "",
                "yes" if user.is_active else "no",
                user.locked_until.isoformat() if user.locked_until else "",
            )
    console.print(table)


@app.command("password")
def password(username: Annotated[str, typer.Argument()]) -> None:
    """Set a new password (asked, or generated and printed once); unlocks the account."""
    from robocall.cli import _prepare_database

    _prepare_database()
    new_password, generated = _ask_password()
    try:
        with session_scope() as session:
            user = get_by_username(db_session=session, username=username)
            if user is None:
                raise UserError(f"username: no user {username!r}")
            set_password(db_session=session, user=user, password=new_password)
            record_audit(db_session=session, user=None, action="user.password", object_id=user.id)
    except UserError as exc:
        raise _fail(str(exc)) from None
    console.print(f"password of {username} changed")
    if generated:
        console.print(f"password (shown once): {new_password}", highlight=False)


@app.command("token")
def token(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "script",
) -> None:
    """Create an API token (Authorization: Bearer) for a user; printed once."""
    from robocall.cli import _prepare_database

    _prepare_database()
    with session_scope() as session:
        user = get_by_username(db_session=session, username=username)
        if user is None:
            raise _fail(f"username: no user {username!r}")
        value = create_api_token(db_session=session, user=user, name=name)
        record_audit(db_session=session, user=None, action="user.token", object_id=user.id)
    console.print(f"API token for {user.username} (shown once): {value}", highlight=False)
