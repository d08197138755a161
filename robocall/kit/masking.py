"""Masking personal data (phones, names) before it reaches a log."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

# A run of digit groups that may be a phone, as people and URLs write one: +84912345678,
# 0912 345 678, 0912.345.678, %2B84912345678 (a URL-encoded +), 0912+345+678 or 0912%20345
# (URL-encoded spaces). Not inside a word or another number; a %XX escape may precede it (a
# phone in an encoded query string: q%3D0912345678).
_SEPARATOR = r"(?:\)?(?:[ .\-+]|%20)\(?)"  # "(+84) 912 345 678" too
_PHONE_RUN = re.compile(
    rf"(?:(?<![\w%])|(?<=%[0-9A-Fa-f]{{2}}))(?:\+|%2[Bb])?\d{{2,}}(?:{_SEPARATOR}\d{{2,}})*(?!\w)"
)
_GROUP = re.compile(r"\+?\d+")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # a client's address, not a phone
MAX_PHONE_GROUPS = 6  # "+84 91 234 56 78" is five; a longer run is scanned six groups at a time
# Percent-encoded text beyond ASCII (UTF-8 bytes %80-%FF, or %25XX when encoded twice): in a
# query string that is a Vietnamese name someone searched for or submitted.
_ENCODED_TEXT = re.compile(r"[\w.~\-+%]*%(?:25)?[89A-Fa-f][0-9A-Fa-f][\w.~\-+%]*")
_QUERY_KEY = re.compile(r"[A-Za-z_][\w.\-\[\]]{0,40}")
HIDDEN = "***"


def mask_phone(phone: str | None) -> str:
    """Keep the country prefix and the last 3 digits: +84*******678."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "*" * len(phone)
    prefix = "+" + digits[:2] if phone.startswith("+") else digits[:1]
    hidden = len(digits) - len(prefix.lstrip("+")) - 3
    return f"{prefix}{'*' * hidden}{digits[-3:]}"


def mask_name(name: str | None) -> str:
    """Initials only: "Nguyễn Văn An" → "N. V. A."."""
    if not name:
        return ""
    return " ".join(f"{part[0]}." for part in name.split())


def _is_phone(digits: str, international: bool) -> bool:
    """E.164 with its +; else Vietnamese national (0…), with the country code (84…) or 00."""
    if international:
        return 8 <= len(digits) <= 15
    return (
        (digits.startswith("00") and 10 <= len(digits) <= 17)
        or (digits.startswith("0") and 9 <= len(digits) <= 11)
        or (digits.startswith("84") and 10 <= len(digits) <= 12)
    )


def _phones_in_run(run: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, masked) of each phone in a run of digit groups, longest first from the
    left: "row 12 0912 345 678" holds a phone even though the whole run is not one."""
    groups = list(_GROUP.finditer(run))
    i = 0
    while i < len(groups):
        international = not groups[i].group().isdigit()
        for j in range(min(len(groups), i + MAX_PHONE_GROUPS), i, -1):
            digits = "".join(g.group().lstrip("+") for g in groups[i:j])
            if _is_phone(digits, international):
                masked = mask_phone(("+" if international else "") + digits)
                yield groups[i].start(), groups[j - 1].end(), masked
                i = j
                break
        else:
            i += 1


def _mask_run(match: re.Match[str]) -> str:
    if _IPV4.fullmatch(match.group()):
        return match.group()
    # URL-encoded "+" and spaces as themselves: their hex digits are not the phone's.
    run = match.group().replace("%20", " ").replace("%2B", "+").replace("%2b", "+")
    pieces: list[str] = []
    done = 0
    for start, end, masked in _phones_in_run(run):
        pieces += [run[done:start], masked]
        done = end
    return "".join(pieces) + run[done:]


def mask_phones_in(text: str) -> str:
    """Every phone in the text masked, in any of the forms of `_PHONE_RUN`."""
    return _PHONE_RUN.sub(_mask_run, text)


def mask_personal_data(text: str) -> str:
    """Phones (plain or URL-encoded) and percent-encoded non-ASCII text (names) masked."""
    return mask_phones_in(_ENCODED_TEXT.sub(HIDDEN, text))


def hide_query_values(url: str) -> str:
    """A URL or path with its query string's values left out ("/contacts?q=***&page=***"):
    a search or a form sent by GET carries phones and names in any spelling."""
    path, question, query = url.partition("?")
    if not question:
        return url
    shown: list[str] = []
    for part in query.split("&"):
        key, equals, _value = part.partition("=")
        name = key if _QUERY_KEY.fullmatch(key) else HIDDEN
        shown.append(f"{name}={HIDDEN}" if equals else name)
    return f"{path}?{'&'.join(shown)}"


# uvicorn's access log: its formatter needs the five arguments (client, method, path with
# query, HTTP version, status), so they are masked one by one instead of merged into the text.
_ACCESS_LOGGER = "uvicorn.access"


class PersonalDataFilter(logging.Filter):
    """Masks phones and encoded names in every log record, its traceback included; leaves
    the values of query strings out of uvicorn's access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == _ACCESS_LOGGER and isinstance(record.args, tuple):
            record.args = tuple(
                mask_personal_data(hide_query_values(arg)) if isinstance(arg, str) else arg
                for arg in record.args
            )
        else:
            message = record.getMessage()
            masked = mask_personal_data(message)
            if masked != message:
                record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatted here so that the text every handler prints is the masked one.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return True


# uvicorn's loggers have handlers of their own and do not reach the root logger; a filter on
# the logger itself outlives uvicorn's logging set-up (which replaces handlers, not filters).
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", _ACCESS_LOGGER)
# The Twilio SDK logs every request at INFO, query string and all ("GET Request:
# …/Calls.json?To=%2B84…"): only when someone asks for DEBUG.
_PROVIDER_SDK_LOGGERS = ("twilio", "twilio.http_client")


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr, with personal data masked in every record."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Routine chatter of libraries: each scheduler tick, each HTTP request to a webhook.
    for noisy in ("apscheduler", "httpx", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sdk_level = logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    for name in _PROVIDER_SDK_LOGGERS:
        logging.getLogger(name).setLevel(sdk_level)
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if not any(isinstance(f, PersonalDataFilter) for f in server_logger.filters):
            server_logger.addFilter(PersonalDataFilter())
