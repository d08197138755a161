"""`robocall privacy`: erase or export one person's data on request; anonymise what is past
retention (docs/privacy.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from robocall.commandline import console, err_console, fail, prepare_database

privacy_app = typer.Typer(
    help=(
        "Personal data (Law 91/2025/QH15, Decree 13/2023): erase or export one person's data "
        "on request, anonymise what is past the retention period. See docs/privacy.md."
    ),
    no_args_is_help=True,
)

PhoneOption = Annotated[
    str, typer.Option("--phone", help="The person's number, in any usual form (0912…, +84…).")
]
RequestedByOption = Annotated[
    str,
    typer.Option(
        "--requested-by", help="Who runs this and on whose request (your name), for the audit log."
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    return fail(message, code)


def _e164(phone: str) -> str:
    from robocall.contacts.phones import normalize_phone

    normalised = normalize_phone(phone)
    if normalised is None:
        raise _fail(f"--phone: {phone!r} is not a phone number")
    return normalised


def _prepare() -> None:
    prepare_database()


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n) or "none"


@privacy_app.command(
    "erase",
    help=(
        "Erase one person's data on their request: every contact with that number, its "
        "calls, answers, reports and messages, and the stored uploads it came from. "
        "Cannot be undone; try --dry-run first."
    ),
)
def erase_command(
    phone: PhoneOption,
    requested_by: RequestedByOption,
    reason: Annotated[
        str, typer.Option("--reason", help="Why: e.g. the person's written request of 2 May.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be erased; change nothing.")
    ] = False,
) -> None:
    """Erase one person's data on their request (see the help text)."""
    from robocall.db import get_sessionmaker
    from robocall.kit.masking import mask_phone
    from robocall.privacy.service import PrivacyError, erase_phone

    number = _e164(phone)
    _prepare()
    session = get_sessionmaker()()
    try:
        counts = erase_phone(
            db_session=session,
            phone=number,
            operator=f"cli:{requested_by.strip()}",
            requested_by=requested_by,
            reason=reason,
        )
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except PrivacyError as exc:
        session.rollback()
        raise _fail(str(exc)) from None
    finally:
        session.close()
    verb = "would erase" if dry_run else "erased"
    console.print(f"{mask_phone(number)}: {verb} {_counts_line(counts.as_dict())}", highlight=False)


@privacy_app.command(
    "export",
    help=(
        "Give a person their data: every contact record, call, answer, report and message "
        "for their number, as JSON (UTF-8, Vietnamese as written)."
    ),
)
def export_command(
    phone: PhoneOption,
    requested_by: RequestedByOption,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for the audit log.")
    ] = "yêu cầu của chủ thể dữ liệu / the person's request",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON to this file (UTF-8).")
    ] = None,
) -> None:
    """Give a person their data (see the help text)."""
    from robocall.db import session_scope
    from robocall.privacy.export import personal_data, record_counts
    from robocall.privacy.service import PrivacyError, record_request

    number = _e164(phone)
    if not requested_by.strip():
        raise _fail("--requested-by: who asked is needed for the audit log")
    _prepare()
    try:
        with session_scope() as session:
            data = personal_data(db_session=session, phone=number)
            record_request(
                db_session=session,
                action="privacy.export",
                phone=number,
                operator=f"cli:{requested_by.strip()}",
                requested_by=requested_by.strip(),
                reason=reason.strip(),
                detail=record_counts(data),
            )
    except PrivacyError as exc:
        raise _fail(str(exc)) from None
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        print(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    err_console.print(f"wrote {_counts_line(record_counts(data))} to {out}", highlight=False)


@privacy_app.command("anonymise")
def anonymise_command(
    retention_days: Annotated[
        int | None,
        typer.Option(help="Days kept after monitoring ends (default: ROBOCALL_RETENTION_DAYS)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be anonymised; change nothing.")
    ] = False,
) -> None:
    """Anonymise now what is past the retention period (what the daily job does)."""
    from robocall.db import get_sessionmaker, utcnow
    from robocall.privacy.scheduled import configured_retention_days
    from robocall.privacy.service import PrivacyError, anonymise_expired

    _prepare()
    days = retention_days if retention_days is not None else configured_retention_days()
    session = get_sessionmaker()()
    try:
        counts = anonymise_expired(db_session=session, now=utcnow(), retention_days=days)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except PrivacyError as exc:
        session.rollback()
        raise _fail(str(exc)) from None
    finally:
        session.close()
    verb = "would anonymise" if dry_run else "anonymised"
    console.print(f"retention {days} days: {verb} {_counts_line(counts.as_dict())}")
