"""Masking personal data (phones, names) before it reaches a log."""

from __future__ import annotations

import logging
import re

# E.164 (+84912345678) and Vietnamese national forms (0912345678, 84912345678).
_PHONE = re.compile(r"(?<![\w+])(\+\d{8,15}|(?:84|0)\d{8,10})(?!\w)")


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


def mask_phones_in(text: str) -> str:
    return _PHONE.sub(lambda m: mask_phone(m.group(1)), text)


class PersonalDataFilter(logging.Filter):
    """Masks anything shaped like a phone number in every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


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
