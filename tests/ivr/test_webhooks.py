"""The IVR webhooks with correctly signed requests: state in the database, answers stored."""

from __future__ import annotations

from sqlalchemy import select

from robocall.hotline.models import HotlineReport, ReportChannel
from robocall.ivr import service
from robocall.ivr.models import CallAnswer, CallSession, CallSessionStatus
from robocall.ivr.service import ContactMatch
from tests.ivr.driver import WebhookCall, gather_path, signed_post, spoken, step_of


def _answers(session, call_sid: str) -> list[CallAnswer]:
    call = session.scalar(select(CallSession).where(CallSession.call_sid == call_sid))
    return list(call.answers)


def test_outbound_f1_call_through_the_webhooks_stores_every_answer(client, session):
    service.set_contact_lookups(
        by_phone=None,
        by_id=lambda db, contact_id: ContactMatch(
            contact_id, None, {"name": "Phạm Thị Dung", "isolation_end_date": "2026-12-01"}
        ),
    )
    call = WebhookCall(client, "CA0001").answer_outbound("f1_tracing", contact=42)
    assert "Phạm Thị Dung" in call.heard[-1]
    call.press("1", "1", "2", "2", "2", "2", "2", "1")
    assert call.finished
    assert "ngày 1 tháng 12" in call.heard[-1]

    stored = session.scalar(select(CallSession).where(CallSession.call_sid == "CA0001"))
    assert stored.flow_name == "f1_tracing" and len(stored.flow_version) == 12
    assert stored.contact_id == 42
    assert stored.phone == "+84901234567"
    assert stored.status == CallSessionStatus.finished and stored.outcome == "completed"
    answers = [(a.node, a.key, a.value) for a in stored.answers]
    assert answers == [
        ("confirm_person", "1", "yes"),
        ("fever", "1", "yes"),
        ("cough", "2", "no"),
        ("sore_throat", "2", "no"),
        ("breathing", "2", "no"),
        ("taste_smell", "2", "no"),
        ("tested", "2", "not_tested"),
        ("whereabouts", "1", "at_home"),
    ]
    assert stored.answers[1].question == "Mấy ngày nay anh chị có bị sốt không?"
    assert all(a.answered_at.tzinfo is not None for a in stored.answers)
    report = session.scalar(select(HotlineReport))
    assert report.channel == ReportChannel.outbound_call
    assert report.contact_id == 42 and report.symptoms == ["fever"] and not report.urgent


def test_a_repeated_post_replays_the_same_question_and_changes_nothing(client, session):
    call = WebhookCall(client, "CA0002").answer_outbound("f1_tracing")
    first_question = call.twiml
    path = gather_path(call.twiml)
    call.press("1")
    after_first = call.twiml
    # The provider retries the same post (same step): the answer is not taken twice.
    response = signed_post(client, path, {"CallSid": "CA0002", "Digits": "1"})
    assert response.text == after_first
    # A late post for an older step is answered with the current question too.
    assert step_of(gather_path(after_first)) == step_of(path) + 1
    assert first_question != after_first
    assert len(_answers(session, "CA0002")) == 1


def test_the_answer_webhook_sent_twice_opens_one_session(client, session):
    first = WebhookCall(client, "CA0003").answer_outbound("bluezone_guide")
    second = WebhookCall(client, "CA0003").answer_outbound("bluezone_guide")
    assert first.twiml == second.twiml
    assert len(session.scalars(select(CallSession)).all()) == 1


def test_unsigned_or_badly_signed_requests_are_refused(client, session):
    form = {"CallSid": "CA0004", "To": "+84901234567"}
    assert client.post("/webhooks/twilio/voice?flow=f1_tracing", data=form).status_code == 403
    wrong = signed_post(client, "/webhooks/twilio/voice?flow=f1_tracing", form, token="nope")
    assert wrong.status_code == 403
    # The signature covers the query: the flow cannot be swapped in transit.
    response = signed_post(client, "/webhooks/twilio/voice?flow=f1_tracing", form)
    signature = response.request.headers["X-Twilio-Signature"]
    swapped = client.post(
        "/webhooks/twilio/voice?flow=hotline",
        data=form,
        headers={"X-Twilio-Signature": signature},
    )
    assert swapped.status_code == 403
    assert session.scalars(select(CallSession)).all() == [
        session.scalar(select(CallSession).where(CallSession.call_sid == "CA0004"))
    ]


def test_unknown_flow_ends_the_call_politely_and_opens_no_session(client, session):
    response = signed_post(
        client, "/webhooks/twilio/voice?flow=nope", {"CallSid": "CA0005", "To": "+84901234567"}
    )
    assert response.status_code == 200
    assert "Hangup" in response.text and "sự cố" in spoken(response.text)
    assert session.scalars(select(CallSession)).all() == []


def test_missing_call_sid_is_a_clear_400(client):
    response = signed_post(client, "/webhooks/twilio/voice?flow=f1_tracing", {"To": "+849"})
    assert response.status_code == 400
    assert "CallSid" in response.json()["detail"]


def test_webhook_errors_are_json_and_oversized_or_unencoded_posts_refused(client, session):
    # Webhooks are answered before the application's middleware: errors still come as JSON.
    lost = signed_post(client, "/webhooks/twilio/nowhere", {"CallSid": "CA0008"})
    assert lost.status_code == 404 and lost.json() == {"detail": "Not Found"}
    got = client.get("/webhooks/twilio/gather?step=1")
    assert got.status_code == 405 and got.json() == {"detail": "Method Not Allowed"}
    # A post far larger than any provider sends is refused before it is read whole.
    huge = {"CallSid": "CA0009", "To": "+84901234567", "SpeechResult": "a" * 70_000}
    refused = signed_post(client, "/webhooks/twilio/voice?flow=f1_tracing", huge)
    assert refused.status_code == 413 and "65536 bytes" in refused.json()["detail"]
    # Providers post URL-encoded forms; another body is refused by name, unread.
    as_json = client.post(
        "/webhooks/twilio/voice?flow=f1_tracing", json={"CallSid": "CA0009", "To": "+849"}
    )
    assert as_json.status_code == 415 and "x-www-form-urlencoded" in as_json.json()["detail"]
    assert session.scalars(select(CallSession)).all() == []
    session.rollback()  # let the webhook write
    # The same call, posted as the provider does, is answered.
    del huge["SpeechResult"]
    answered = signed_post(client, "/webhooks/twilio/voice?flow=f1_tracing", huge)
    assert answered.status_code == 200 and "<Gather" in answered.text
    assert [c.call_sid for c in session.scalars(select(CallSession))] == ["CA0009"]


def test_bad_query_parameters_are_named_and_change_nothing(client, session):
    call = WebhookCall(client, "CA0006").answer_outbound("f1_tracing")
    before = call.twiml
    response = signed_post(
        client, "/webhooks/twilio/gather?step=one", {"CallSid": "CA0006", "Digits": "1"}
    )
    assert response.status_code == 422
    assert "step" in response.json()["detail"] and "'one'" in response.json()["detail"]
    no_flow = signed_post(
        client, "/webhooks/twilio/voice", {"CallSid": "CA0007", "To": "+84901234567"}
    )
    assert no_flow.status_code == 422 and "flow" in no_flow.json()["detail"]
    assert len(session.scalars(select(CallSession)).all()) == 1  # CA0007 opened nothing
    assert _answers(session, "CA0006") == []
    session.rollback()  # let the webhooks write
    # The call goes on from where it was: the refused post took no answer.
    call.press("1")
    assert (
        call.twiml != before
        and step_of(gather_path(call.twiml)) == step_of(gather_path(before)) + 1
    )
    assert [a.value for a in _answers(session, "CA0006")] == ["yes"]


def test_opt_out_and_wrong_number_reach_the_registered_handlers(client, session):
    seen: list[tuple[str, str]] = []
    for kind in ("opt_out", "mark_wrong_number"):
        service.register_effect_handler(
            kind, lambda db, call, effect: seen.append((effect.kind, call.phone))
        )
    try:
        WebhookCall(client, "CA0006").answer_outbound("f1_tracing").press("1", "9", "1")
        WebhookCall(client, "CA0007", caller="+84907654321").answer_outbound("f1_tracing").press(
            "2"
        )
    finally:
        service.clear_effect_handlers("opt_out")
        service.clear_effect_handlers("mark_wrong_number")
    assert seen == [("opt_out", "+84901234567"), ("mark_wrong_number", "+84907654321")]
    outcomes = dict(session.execute(select(CallSession.call_sid, CallSession.outcome)).all())
    assert outcomes == {"CA0006": "opted_out", "CA0007": "wrong_number"}


def test_silence_through_the_webhooks(client, session):
    call = WebhookCall(client, "CA0008").answer_outbound("f0_daily_checkin")
    for _ in range(3):
        call.post_step(Digits="")
    assert call.finished
    # A post after the end only hangs up.
    response = signed_post(
        client, "/webhooks/twilio/gather?step=99", {"CallSid": "CA0008", "Digits": "1"}
    )
    assert response.text.endswith("<Response><Hangup /></Response>")
    stored = session.scalar(select(CallSession).where(CallSession.call_sid == "CA0008"))
    assert stored.outcome == "no_input"
    assert [a.value for a in stored.answers] == []


def test_hotline_hang_up_midway_keeps_a_partial_report(client, session):
    call = WebhookCall(client, "CA0009").call_hotline().press("1", "1", "2")
    response = signed_post(
        client,
        "/webhooks/twilio/status",
        {"CallSid": "CA0009", "CallStatus": "completed"},
    )
    assert response.status_code == 204
    ended = session.scalar(select(CallSession.ended_at).where(CallSession.call_sid == "CA0009"))
    session.rollback()
    # The same status again, and a late key press, change nothing.
    signed_post(client, "/webhooks/twilio/status", {"CallSid": "CA0009", "CallStatus": "completed"})
    late = signed_post(client, gather_path(call.twiml), {"CallSid": "CA0009", "Digits": "1"})
    assert "<Hangup" in late.text
    report = session.scalar(select(HotlineReport))
    assert report.channel == ReportChannel.hotline
    assert report.complete is False
    assert report.symptoms == ["fever"]
    assert report.answers["cough"] == "no"
    assert len(session.scalars(select(HotlineReport)).all()) == 1
    stored = session.scalar(select(CallSession).where(CallSession.call_sid == "CA0009"))
    assert stored.status == CallSessionStatus.finished and stored.outcome == "hung_up"
    assert ended is not None and stored.ended_at == ended and stored.started_at <= ended
    assert len(stored.answers) == 3


def test_bluezone_link_is_texted_by_a_job_after_the_call_step(client, session):
    from robocall.hotline import notify
    from robocall.processes import make_worker
    from robocall.workers.queues import get_queue

    call = WebhookCall(client, "CA0010", caller="+84903334444").answer_outbound("bluezone_guide")
    call.press("1")
    assert notify.outbox_messages() == []  # nothing is sent while answering the webhook
    call.press("1")
    assert call.finished and "đã gửi tin nhắn" in call.heard[-1]
    assert get_queue("sms").count == 1
    make_worker(["sms"]).work(burst=True)
    (message,) = notify.outbox_messages()
    assert message["to"] == "+84903334444"
    assert "https://www.bluezone.gov.vn" in message["body"]


def test_f0_checkin_through_the_webhooks_files_an_urgent_report_with_the_readings(client, session):
    from robocall.hotline.models import ReportNotification

    call = WebhookCall(client, "CA0011", caller="+84905556666").answer_outbound("f0_daily_checkin")
    call.press("1", "451")  # 45.1 °C cannot be right: the question is asked again
    assert "không có trong lựa chọn" in call.heard[-1]
    call.press("388", "93", "2", "2", "2")
    assert call.finished
    report = session.scalar(select(HotlineReport))
    assert report.channel == ReportChannel.outbound_call
    assert report.temperature == 38.8 and report.spo2 == 93
    assert report.urgent and report.urgent_reasons == ["low_spo2"]
    assert len(session.scalars(select(ReportNotification)).all()) == 1  # default duty number
    wrong = [a for a in _answers(session, "CA0011") if a.node == "temperature" and a.value == ""]
    assert [a.key for a in wrong] == ["451"]
