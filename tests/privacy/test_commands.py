"""Finding 14: `robocall privacy erase` and `export` on a person's request, audited."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from robocall.cli.privacy import privacy_app
from robocall.contacts.models import Contact
from robocall.privacy.service import ANONYMISED_NAME, is_placeholder
from robocall.users.models import AuditEntry
from tests.privacy.helpers import AN, HOUSEHOLD, District, every_text, one


def test_erase_by_phone_removes_every_contact_with_it_and_what_came_through_it(
    session: Session, district: District
):
    session.rollback()
    dung, em = district.people["Dũng"], district.people["Em"]
    result = CliRunner().invoke(
        privacy_app,
        [
            "erase",
            "--phone",
            "0912 000 004",  # as the person says it
            "--requested-by",
            "Bs. Nguyễn Thị Hòa",
            "--reason",
            "Đơn yêu cầu xóa dữ liệu của chị Em ngày 2/12",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "+84******004" in result.output and "2 contacts" in result.output

    # Em is still monitored, but asked: both of the household's records go, and everything
    # that came through the number, recent or not.
    everything = every_text(session)
    for trace in (HOUSEHOLD, em.name, dung.name, em.words, dung.words, "Em vẫn khỏe"):
        assert trace not in everything, trace
    for person in (dung, em):
        contact = session.get(Contact, person.contact_id)
        assert contact is not None
        assert contact.name == ANONYMISED_NAME and is_placeholder(contact.phone)
    # Nobody else is touched.
    assert district.people["An"].name in everything and AN in everything

    entry = one(session, select(AuditEntry).where(AuditEntry.action == "privacy.erase"))
    assert entry.username == "cli:Bs. Nguyễn Thị Hòa"
    assert entry.object_id == "+84******004"
    assert entry.detail["requested_by"] == "Bs. Nguyễn Thị Hòa"
    assert entry.detail["reason"].startswith("Đơn yêu cầu xóa")
    assert entry.detail["contacts"] == 2 and entry.detail["reports"] == 2
    assert entry.detail["originals_deleted"] == 1


def test_erase_needs_who_asked_and_why_and_a_real_number(session: Session, district: District):
    session.rollback()
    runner = CliRunner()
    missing = runner.invoke(privacy_app, ["erase", "--phone", AN, "--requested-by", "Hòa"])
    assert missing.exit_code == 2 and "--reason" in missing.output
    blank = runner.invoke(
        privacy_app, ["erase", "--phone", AN, "--requested-by", " ", "--reason", "đơn"]
    )
    assert blank.exit_code == 2 and "who asked" in blank.output
    bad = runner.invoke(
        privacy_app, ["erase", "--phone", "12", "--requested-by", "Hòa", "--reason", "đơn"]
    )
    assert bad.exit_code == 2 and "not a phone number" in bad.output
    dry = runner.invoke(
        privacy_app,
        ["erase", "--phone", AN, "--requested-by", "Hòa", "--reason", "đơn", "--dry-run"],
    )
    # An, with his other number (+84987000001), which no one else gives.
    assert dry.exit_code == 0 and "would erase 1 contacts, 2 phones," in dry.output
    session.expire_all()
    assert session.get(Contact, district.people["An"].contact_id).name == "Nguyễn Văn An"  # type: ignore[union-attr]
    assert session.scalars(select(AuditEntry)).all() == []


def test_export_by_phone_gives_the_person_their_data_as_utf8_json(
    session: Session, district: District, tmp_path: Path
):
    session.rollback()
    dung, em = district.people["Dũng"], district.people["Em"]
    out = tmp_path / "du-lieu-cua-toi.json"
    result = CliRunner().invoke(
        privacy_app,
        ["export", "--phone", "0912000004", "--requested-by", "Bs. Hòa", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    raw = out.read_text(encoding="utf-8")
    assert "Trần Thị Em" in raw and "\\u" not in raw  # Vietnamese as written
    data = json.loads(raw)
    assert data["phone"] == HOUSEHOLD
    assert [c["name"] for c in data["contacts"]] == [dung.name, em.name]
    assert data["contacts"][1]["address"]["detail"] == "12 đường số 3 (Em)"
    assert {c["sid"] for c in data["calls"]} == {dung.call_sid, em.call_sid}
    sessions = {s["call_sid"]: s for s in data["call_sessions"]}
    assert [a["speech"] for a in sessions[em.call_sid]["answers"]] == [None, "có, Em bị ho", None]
    assert {r["message"] for r in data["reports"]} == {dung.words, em.words}
    bodies = [m["body"] for m in data["messages"]]
    assert (
        "Em vẫn khỏe, cảm ơn" in bodies
        and f"Chào {em.name}, xin ở nhà đến hết ngày theo dõi." in bodies
    )
    assert "Law 91/2025/QH15" in data["legal_basis"]
    # Nobody else's data.
    assert "Nguyễn Văn An" not in raw and AN not in raw

    entry = one(session, select(AuditEntry).where(AuditEntry.action == "privacy.export"))
    assert entry.username == "cli:Bs. Hòa" and entry.object_id == "+84******004"
    assert entry.detail["contacts"] == 2 and entry.detail["reports"] == 2
    assert entry.detail["answers"] == 6
    assert HOUSEHOLD not in json.dumps(entry.detail)


def test_export_prints_to_stdout_without_out(session: Session, district: District):
    session.rollback()
    result = CliRunner().invoke(privacy_app, ["export", "--phone", AN, "--requested-by", "Bs. Hòa"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["name"] for c in data["contacts"]] == ["Nguyễn Văn An"]
