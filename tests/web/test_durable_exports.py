"""An export asked for on the exports page is prepared, whatever Redis does: its row in the
database is the truth, and the sweeper queues again what Redis or a dead worker lost."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.db import session_scope, utcnow
from robocall.exports import tasks
from robocall.exports.models import ExportState, PreparedExport
from robocall.exports.scheduled import LOST_AFTER, RUNNING_LOST_AFTER, exports_sweeper
from robocall.processes import make_worker
from robocall.users.models import Role
from robocall.workers.connection import get_redis
from robocall.workers.queues import get_queue
from tests.web.conftest import World
from tests.web.helpers import page_csrf, signed_in_client

LATE = LOST_AFTER + dt.timedelta(seconds=1)


@pytest.fixture
def client(session: Session, world: World) -> TestClient:
    session.commit()
    return signed_in_client(session, "trungtam", Role.admin, None)


def _prepare(client: TestClient) -> str:
    """Ask for the contacts workbook; its token."""
    response = client.post(
        "/exports/contacts/prepare",
        data={"csrf_token": page_csrf(client, "/exports"), "fmt": "xlsx"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"].rsplit("/", 1)[1])


def _progress(client: TestClient, token: str) -> dict[str, object]:
    response = client.get(f"/exports/prepared/{token}/progress")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _sweep(at: dt.datetime) -> None:
    exports_sweeper(get_redis(), "test", now=at)


def _work() -> bool:
    return bool(make_worker(["exports"]).work(burst=True))


def _export(token: str) -> PreparedExport:
    with session_scope() as session:
        export = session.scalar(select(PreparedExport).where(PreparedExport.token == token))
        assert export is not None
        session.expunge(export)
        return export


def _download(client: TestClient, token: str) -> bytes:
    response = client.get(f"/exports/prepared/{token}/file")
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"PK")  # a workbook (a zip)
    return response.content


def test_an_export_asked_for_while_redis_is_down_is_prepared_once_redis_is_back(
    client, restartable_redis
):
    restartable_redis.stop()
    token = _prepare(client)  # the row is committed; its job could not be queued
    assert _progress(client, token)["state"] == "queued"
    assert "export-file" not in client.get(f"/exports/prepared/{token}").text
    restartable_redis.start()
    assert _work() is False  # nothing reached the queue

    _sweep(utcnow())  # not late yet: its job may still be on its way
    assert get_queue("exports").count == 0
    _sweep(utcnow() + LATE)  # the sweeper finds what Redis lost
    _sweep(utcnow() + LATE)  # and running again at once queues nothing twice over
    assert get_queue("exports").count == 1
    _work()
    status = _progress(client, token)
    assert status["state"] == "done", status
    assert 'id="export-file"' in client.get(f"/exports/prepared/{token}").text
    _download(client, token)

    _sweep(utcnow() + 2 * LATE)
    _work()
    assert _export(token).tries == 1


def test_an_export_whose_job_redis_lost_is_prepared(client):
    token = _prepare(client)
    get_redis().flushdb()  # Redis restarted without persistence: the job and queue are gone
    assert _work() is False
    _sweep(utcnow() + LATE)
    _work()
    assert _progress(client, token)["state"] == "done"
    _download(client, token)


def test_a_second_job_for_the_same_export_does_nothing(client):
    token = _prepare(client)
    get_queue("exports").enqueue(tasks.run_export, token)  # a duplicate, as a sweep may send
    _work()
    _download(client, token)
    tasks.run_export(token)  # and one after it finished: no file written again
    export = _export(token)
    assert export.state == ExportState.done and export.tries == 1
    assert not (tasks.export_folder() / f"{token}.xlsx").exists()


def test_an_export_a_dead_worker_held_is_prepared_again(client):
    token = _prepare(client)
    get_redis().flushdb()
    taken_at = utcnow()
    with session_scope() as session:
        session.execute(
            update(PreparedExport)
            .where(PreparedExport.token == token)
            .values(state=ExportState.running, taken_at=taken_at, tries=1)
        )
    _sweep(taken_at + RUNNING_LOST_AFTER / 2)  # a long export is not taken from its worker
    assert get_queue("exports").count == 0
    assert _progress(client, token)["state"] == "running"
    _sweep(taken_at + RUNNING_LOST_AFTER + dt.timedelta(seconds=1))
    assert _progress(client, token)["state"] == "queued"
    _work()
    assert _progress(client, token)["state"] == "done"
    assert _export(token).tries == 2
    _download(client, token)


def test_an_export_that_crashes_is_tried_again_then_failed(client, monkeypatch):
    def crash(**_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tasks, "write_export", crash)
    token = _prepare(client)
    for tries in range(1, tasks.MAX_TRIES + 1):
        _work()
        export = _export(token)
        assert export.tries == tries
        if tries < tasks.MAX_TRIES:
            assert export.state == ExportState.queued  # for the sweeper to send again
            _sweep(utcnow() + LATE)
    status = _progress(client, token)
    assert status["state"] == "failed" and status["error"] == tasks.GAVE_UP
    assert list(tasks.export_folder().glob(f"{token}*")) == []  # no partial file left


def test_finished_exports_are_forgotten_after_a_day(client, session):
    token = _prepare(client)
    _work()
    _sweep(utcnow() + dt.timedelta(seconds=tasks.FILE_SECONDS - 60))
    assert _export(token).state == ExportState.done
    _sweep(utcnow() + dt.timedelta(seconds=tasks.FILE_SECONDS + 1))
    assert list(session.scalars(select(PreparedExport))) == []
    session.rollback()
    assert client.get(f"/exports/prepared/{token}/progress").status_code == 404


def test_an_export_belongs_to_whoever_asked_for_it(client, session):
    token = _prepare(client)
    _work()
    other = signed_in_client(session, "nguoikhac", Role.admin, None)
    assert other.get(f"/exports/prepared/{token}/progress").status_code == 404
    assert other.get(f"/exports/prepared/{token}").status_code == 404
    assert other.get(f"/exports/prepared/{token}/file").status_code == 404
    _download(client, token)
