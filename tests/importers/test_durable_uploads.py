"""An upload confirmed on the web page is imported exactly once, whatever Redis does: its row
in the database is the truth, and the sweeper queues again what Redis or a dead worker lost."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, undefer

from robocall.contacts.models import Contact
from robocall.db import session_scope, utcnow
from robocall.importers import tasks
from robocall.importers.models import ImportBatch, Upload, UploadState
from robocall.importers.scheduled import LOST_AFTER, RUNNING_LOST_AFTER, uploads_sweeper
from robocall.processes import make_worker
from robocall.users.models import AuditEntry, Role
from robocall.workers.connection import get_redis
from robocall.workers.queues import get_queue
from tests.web.helpers import page_csrf, signed_in_client

LINH_TRUNG = "26794"
LISTING = "Họ và tên,Số điện thoại\nPhạm Thị Lan,0987 654 321\nĐỗ Văn Hùng,0912 111 222\n"
LATE = LOST_AFTER + dt.timedelta(seconds=1)


@pytest.fixture
def client(session: Session, units: None) -> TestClient:
    return signed_in_client(session, "trungtam", Role.admin, None)


def _preview(client: TestClient, listing: str = LISTING) -> str:
    """Upload a list for its preview; the token the confirmation sends."""
    response = client.post(
        "/upload",
        data={"csrf_token": page_csrf(client, "/upload"), "unit": LINH_TRUNG},
        files={"file": ("danh-sach.csv", listing.encode(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    found = re.search(r'name="token" value="([^"]+)"', response.text)
    assert found, response.text
    return found.group(1)


def _confirm(client: TestClient, token: str) -> None:
    response = client.post(
        "/upload/confirm",
        data={"csrf_token": page_csrf(client, "/upload"), "token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/upload/status/{token}"


def _progress(client: TestClient, token: str) -> dict[str, object]:
    response = client.get(f"/upload/status/{token}/progress")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _sweep(at: dt.datetime) -> None:
    uploads_sweeper(get_redis(), "test", now=at)


def _work() -> bool:
    """Run what the imports queue holds; whether there was anything."""
    return bool(make_worker(["imports"]).work(burst=True))


def _imported() -> tuple[int, int, int]:
    """Contacts, import batches and import audit entries in the database."""
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Contact)) or 0,
            session.scalar(select(func.count()).select_from(ImportBatch)) or 0,
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "import.create")
            )
            or 0,
        )


def _upload(token: str) -> Upload:
    with session_scope() as session:
        upload = session.scalar(
            select(Upload).where(Upload.token == token).options(undefer(Upload.content))
        )
        assert upload is not None
        session.expunge(upload)
        return upload


def test_an_upload_confirmed_while_redis_is_down_is_imported_once_redis_is_back(
    client, restartable_redis
):
    token = _preview(client)
    restartable_redis.stop()
    _confirm(client, token)  # the row is committed; its job could not be queued
    assert _progress(client, token)["state"] == "queued"
    restartable_redis.start()
    assert _work() is False  # nothing reached the queue

    _sweep(utcnow())  # not late yet: its job may still be on its way
    assert get_queue("imports").count == 0
    _sweep(utcnow() + LATE)  # the sweeper finds what Redis lost
    _sweep(utcnow() + LATE)  # and running again at once queues nothing twice over
    assert get_queue("imports").count == 1
    _work()
    status = _progress(client, token)
    assert status["state"] == "done" and status["created"] == 2, status
    assert status["batch_id"] is not None
    assert _imported() == (2, 1, 1)
    assert _upload(token).content is None  # the batch keeps the file; the row lets it go

    _sweep(utcnow() + 2 * LATE)
    _work()
    assert _imported() == (2, 1, 1)


def test_an_upload_whose_job_redis_lost_is_imported_once(client):
    token = _preview(client)
    _confirm(client, token)
    get_redis().flushdb()  # Redis restarted without persistence: the job and queue are gone
    assert _work() is False
    assert _progress(client, token)["state"] == "queued"
    _sweep(utcnow() + LATE)
    _work()
    assert _progress(client, token)["state"] == "done"
    assert _imported() == (2, 1, 1)


def test_a_second_job_for_the_same_upload_does_nothing(client):
    token = _preview(client)
    _confirm(client, token)
    get_queue("imports").enqueue(tasks.run_upload, token)  # a duplicate, as a sweep may send
    _work()
    tasks.run_upload(token)  # and one after it finished
    assert _imported() == (2, 1, 1)
    upload = _upload(token)
    assert upload.state == UploadState.done and upload.tries == 1


def test_a_second_confirmation_neither_queues_it_again_nor_says_expired(client):
    token = _preview(client)
    _confirm(client, token)
    _confirm(client, token)  # a second click: back to its progress page
    assert get_queue("imports").count == 1


def test_an_upload_a_dead_worker_held_is_imported_again(client):
    token = _preview(client)
    _confirm(client, token)
    get_redis().flushdb()
    # A worker took it, then died before it committed anything.
    taken_at = utcnow()
    with session_scope() as session:
        session.execute(
            update(Upload)
            .where(Upload.token == token)
            .values(state=UploadState.running, taken_at=taken_at, tries=1)
        )
    _sweep(taken_at + RUNNING_LOST_AFTER / 2)  # a long import is not taken from its worker
    assert get_queue("imports").count == 0
    assert _progress(client, token)["state"] == "running"
    _sweep(taken_at + RUNNING_LOST_AFTER + dt.timedelta(seconds=1))
    assert _progress(client, token)["state"] == "queued"
    _work()
    assert _progress(client, token)["state"] == "done"
    assert _imported() == (2, 1, 1)
    assert _upload(token).tries == 2


def test_an_import_that_crashes_is_tried_again_then_given_up(client, monkeypatch):
    def crash(**_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tasks, "import_file", crash)
    token = _preview(client)
    _confirm(client, token)
    for tries in range(1, tasks.MAX_TRIES + 1):
        _work()
        upload = _upload(token)
        assert upload.tries == tries
        if tries < tasks.MAX_TRIES:
            assert upload.state == UploadState.queued  # for the sweeper to send again
            _sweep(utcnow() + LATE)
    status = _progress(client, token)
    assert status["state"] == "refused" and status["error"] == tasks.GAVE_UP
    assert _upload(token).content is None
    assert _imported() == (0, 0, 0)


def test_a_refused_file_is_refused_once(client, monkeypatch):
    token = _preview(client)
    _confirm(client, token)
    # The file changed its mind between the preview and the import: refused, not retried.
    monkeypatch.setattr(tasks, "import_file", _refuse)
    _work()
    status = _progress(client, token)
    assert status["state"] == "refused" and status["error"] == "danh-sach.csv: no name column"
    _sweep(utcnow() + RUNNING_LOST_AFTER * 2)
    assert get_queue("imports").count == 0


def _refuse(**_: object) -> None:
    raise tasks.ImportRefused("danh-sach.csv: no name column")


def test_previews_never_confirmed_expire_with_their_file_and_finished_rows_go_later(
    client, session
):
    kept = _preview(client)
    forgotten = _preview(client, LISTING.replace("Lan", "Mai"))
    _confirm(client, kept)
    _work()
    pending = dt.timedelta(seconds=tasks.PENDING_SECONDS)
    _sweep(utcnow() + pending - dt.timedelta(seconds=60))
    assert {u.token for u in session.scalars(select(Upload))} == {kept, forgotten}
    session.rollback()
    _sweep(utcnow() + pending + dt.timedelta(seconds=1))
    assert [u.token for u in session.scalars(select(Upload))] == [kept]
    session.rollback()
    expired = client.post(
        "/upload/confirm", data={"csrf_token": page_csrf(client, "/upload"), "token": forgotten}
    )
    assert expired.status_code == 410
    _sweep(utcnow() + dt.timedelta(seconds=tasks.STATUS_SECONDS + 1))
    assert list(session.scalars(select(Upload))) == []
    session.rollback()


def test_an_upload_belongs_to_whoever_sent_it(client, session):
    token = _preview(client)
    other = signed_in_client(session, "nguoikhac", Role.admin, None)
    refused = other.post(
        "/upload/confirm", data={"csrf_token": page_csrf(other, "/upload"), "token": token}
    )
    assert refused.status_code == 410
    _confirm(client, token)
    assert other.get(f"/upload/status/{token}/progress").status_code == 404
    assert other.get(f"/upload/status/{token}").status_code == 404
    assert len(token) >= 24  # secrets.token_urlsafe(18): not guessable
