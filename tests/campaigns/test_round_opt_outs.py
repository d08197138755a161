"""Opening a round skips the numbers that opted out, by the same rule as the dialler: a
commune's own opt-out does not silence another commune's resident on a shared number."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import Target, TargetStatus
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.contacts.models import Classification, Contact
from robocall.contacts.service import RESIDENT_DURING_CALL, add_opt_out
from robocall.units.service import ensure_sample_units, get_by_code

LINH_TRUNG, LINH_CHIEU = "26794", "26800"
SHARED = "+84913555001"  # on Linh Chiểu's list; Linh Trung's staff opted it out for themselves
OWN = "+84913555002"  # on Linh Chiểu's list; Linh Chiểu's staff opted it out
ASKED = "+84913555003"  # the resident asked during a call: everywhere


def _unit_id(session: Session, code: str) -> int:
    unit = get_by_code(db_session=session, code=code)
    assert unit is not None
    return unit.id


def _resident(session: Session, name: str, phone: str) -> Contact:
    contact = Contact(
        unit_id=_unit_id(session, LINH_CHIEU),
        name=name,
        match_key=name.casefold(),
        phone=phone,
        classification=Classification.F1,
        exposure_date=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3),
    )
    session.add(contact)
    session.flush()
    return contact


def test_a_round_skips_only_the_opt_outs_that_cover_the_household(session: Session) -> None:
    ensure_sample_units(db_session=session)
    people = [
        _resident(session, "Lê Thị Bình", SHARED),
        _resident(session, "Trần Văn Hai", OWN),
        _resident(session, "Phạm Thị Ba", ASKED),
    ]
    add_opt_out(db_session=session, phone=SHARED, unit_id=_unit_id(session, LINH_TRUNG))
    add_opt_out(db_session=session, phone=OWN, unit_id=_unit_id(session, LINH_CHIEU))
    add_opt_out(db_session=session, phone=ASKED, reason=RESIDENT_DURING_CALL, by_resident=True)
    campaign = create_campaign(
        db_session=session, preset="f1_tracing_call", contact_ids=[p.id for p in people]
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()

    statuses = dict(
        session.execute(
            select(Target.phone, Target.status).where(Target.campaign_id == campaign.id)
        ).all()
    )
    assert statuses == {
        SHARED: TargetStatus.pending,  # another commune's opt-out is not Linh Chiểu's
        OWN: TargetStatus.opted_out,
        ASKED: TargetStatus.opted_out,
    }
