"""What residents text back: opt-out/opt-in/help keywords, answers, questions and reports."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.contacts.models import Contact
from robocall.contacts.service import (
    RESIDENT_BY_SMS,
    add_opt_out,
    remove_resident_opt_outs,
)
from robocall.hotline.models import ReportChannel
from robocall.hotline.service import SEND_RESIDENT_SMS_JOB, ReportSource, record_report
from robocall.ivr.answers import answer_question
from robocall.ivr.library import get_library
from robocall.kit.masking import mask_phone
from robocall.kit.text import strip_diacritics
from robocall.kit.yamlfile import load
from robocall.telephony.base import MessageEventData
from robocall.telephony.messages import Message, MessageDirection
from robocall.workers.queues import enqueue_after_commit

log = logging.getLogger(__name__)

QUESTION_WINDOW = dt.timedelta(days=2)  # a reply within this long answers our last SMS question
_NOT_LETTERS = re.compile(r"[\W_]+")


def keyword_key(text: str) -> str:
    """Text folded for keyword matching: no case, diacritics (đ → d) or spaces."""
    return _NOT_LETTERS.sub("", strip_diacritics(text or "")).upper()


@dataclass(frozen=True)
class Keywords:
    lists: dict[str, frozenset[str]]  # optout / optin / help -> folded words
    replies: dict[str, dict[str, str]]  # list name -> language -> reply

    def kind_of(self, text: str) -> str | None:
        key = keyword_key(text)
        for name, words in self.lists.items():
            if key in words:
                return name
        return None


@functools.cache
def load_keywords() -> Keywords:
    """sms/keywords.yaml (checked by `robocall content check`)."""
    path = get_settings().content_dir / "sms" / "keywords.yaml"
    data, problems = load(path, "sms/keywords.yaml")
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    lists = {
        name: frozenset(keyword_key(str(w)) for w in data.get(name) or [])
        for name in ("optout", "optin", "help")
    }
    replies = {k: dict(v) for k, v in (data.get("replies") or {}).items()}
    return Keywords(lists, replies)


def reply_later(db_session: Session, to: str, body: str) -> None:
    """Send a reply after the webhook commits (through the hotline's SMS sender)."""
    enqueue_after_commit(db_session, SEND_RESIDENT_SMS_JOB, to, body, queue="sms")


def _last_question(db_session: Session, phone: str, now: dt.datetime) -> Message | None:
    last = db_session.scalar(
        select(Message)
        .where(Message.direction == MessageDirection.outbound, Message.to_number == phone)
        .order_by(Message.created_at.desc())
        .limit(1)
    )
    if last is None or not last.body.rstrip().endswith("?"):
        return None
    if last.created_at < now - QUESTION_WINDOW:
        return None
    return last


def handle_inbound_sms(db_session: Session, message: Message, _event: MessageEventData) -> None:
    """Listener for telephony: one new SMS from a resident."""
    phone, text = message.from_number, (message.body or "").strip()
    keywords = load_keywords()
    kind = keywords.kind_of(text)
    if kind == "optout":
        add_opt_out(db_session=db_session, phone=phone, reason=RESIDENT_BY_SMS, by_resident=True)
    elif kind == "optin":
        remove_resident_opt_outs(db_session=db_session, phone=phone)
    if kind is not None:
        reply = keywords.replies.get(kind, {}).get("vi")
        if reply:
            reply_later(db_session, phone, reply)
        log.info("SMS keyword %s from %s", kind, mask_phone(phone))
        return
    # Linked to every contact with this number when filed; named only when it is one person.
    contacts = list(db_session.scalars(select(Contact).where(Contact.phone == phone)))
    units = {c.unit_id for c in contacts}
    contact = contacts[0] if len(units) == 1 and len({c.match_key for c in contacts}) == 1 else None
    source = ReportSource(
        channel=ReportChannel.sms,
        phone=phone,
        contact_id=contact.id if contact else None,
        unit_id=units.pop() if len(units) == 1 else None,
        name=contact.name if contact else None,
    )
    question = _last_question(db_session, phone, message.created_at)
    roster = get_library().duty
    if question is not None:
        record_report(
            db_session=db_session,
            source=source,
            data={"kind": "declaration", "answers": {question.body: text}, "message": text},
            roster=roster,
        )
        return
    answer = answer_question(text=text)
    if answer is not None:
        reply_later(db_session, phone, answer.answer)
        return
    record_report(
        db_session=db_session,
        source=source,
        data={"kind": "message", "message": text},
        roster=roster,
    )
