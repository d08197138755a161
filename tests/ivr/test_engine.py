"""The bundled flows through the pure engine: main paths, wrong keys, silence, opt-out."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from robocall.ivr import engine
from robocall.ivr.engine import CallInput
from tests.ivr.driver import NIGHT_TIME, EngineCall, verbs


def _f1_confirmed(**context: object) -> EngineCall:
    call = EngineCall("f1_tracing", context={"name": "Nguyễn Văn An", **context}).start()
    assert call.waiting_at == "confirm_person"
    return call.press("1")


def test_f1_opening_names_the_centre_and_the_person_in_vietnamese_with_the_agreed_voice():
    call = EngineCall(
        "f1_tracing", context={"name": "Nguyễn Văn An", "health_centre": "Trung tâm Y tế Thủ Đức"}
    ).start()
    root = ET.fromstring(call.twiml)
    says = root.findall(".//Say")
    assert {s.attrib["voice"] for s in says} == {"Google.vi-VN-Standard-A"}
    assert {s.attrib["language"] for s in says} == {"vi-VN"}
    assert "Trung tâm Y tế Thủ Đức" in call.last_heard()
    assert "Nguyễn Văn An" in call.last_heard()
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert gather.attrib["action"] == "https://robocall.test/webhooks/twilio/gather?step=1"


def test_f1_household_sharing_a_phone_hears_every_name():
    call = EngineCall(
        "f1_tracing", context={"household_names": ["Trần Thị Bình", "Lê Văn Cường"]}
    ).start()
    assert call.waiting_at == "confirm_household"
    assert "Trần Thị Bình, Lê Văn Cường" in call.last_heard()


def test_f1_all_no_ends_with_a_report_without_symptoms_and_isolation_instructions():
    call = _f1_confirmed(isolation_end_date="2026-11-30")
    call.press("2", "2", "2", "2", "2")  # fever, cough, sore throat, breathing, taste/smell
    assert call.waiting_at == "tested"
    call.press("2", "1")  # not tested, at home
    assert call.state["finished"]
    assert call.state["outcome"] == "completed"
    reports = [e for e in call.effects if e.kind == "create_report"]
    assert len(reports) == 1
    assert reports[0].data["symptoms"] == []
    assert reports[0].data["answers"]["whereabouts"] == "at_home"
    assert "ngày 30 tháng 11" in call.last_heard()
    assert verbs(call.twiml)[-1] == "Hangup"


def test_f1_symptoms_are_listed_and_tested_positive_escalates():
    call = _f1_confirmed().press("1", "1", "2", "2", "2")
    call.press("1", "1")  # tested, positive
    assert "escalate" in call.effect_kinds()
    call.press("1")
    report = [e for e in call.effects if e.kind == "create_report"][-1]
    assert report.data["symptoms"] == ["fever", "cough"]
    assert report.data["urgent"] is True
    assert report.data["urgent_reasons"] == ["positive_test"]


def test_f1_shortness_of_breath_escalates_and_offers_the_duty_doctor():
    call = _f1_confirmed().press("2", "2", "2", "1")
    assert "escalate" in call.effect_kinds()
    assert call.waiting_at == "offer_doctor"
    call.press("1")
    dial = ET.fromstring(call.twiml).find("Dial")
    assert dial is not None
    assert dial.findtext("Number") == "+84912000769"
    assert dial.attrib["timeout"] == "25"
    # Nobody answers: the fallback says the doctor will call back and the survey goes on.
    call.send(CallInput(dial_status="no-answer"))
    assert "Bác sĩ trực đang bận" in call.last_heard()
    assert call.waiting_at == "taste_smell"


def test_f1_elsewhere_records_the_address():
    call = _f1_confirmed().press("2", "2", "2", "2", "2", "2", "2")
    assert call.waiting_at == "address"
    record = ET.fromstring(call.twiml).find("Record")
    assert record is not None and record.attrib["maxLength"] == "45"
    call.send(CallInput(recording_url="https://rec.example/RE1", recording_seconds=9))
    report = [e for e in call.effects if e.kind == "create_report"][-1]
    assert report.data["recordings"] == ["https://rec.example/RE1"]
    assert report.data["answers"]["address"] == "https://rec.example/RE1"


def test_wrong_number_is_marked_and_the_call_ends():
    call = EngineCall("f1_tracing", context={"name": "An"}).start().press("2")
    assert call.effect_kinds() == ["mark_wrong_number"]
    assert call.state["outcome"] == "wrong_number"
    assert call.state["finished"]
    assert "gọi lại số này" in call.last_heard()


def test_wrong_key_repeats_the_question_then_takes_the_default_branch():
    call = _f1_confirmed()
    assert call.waiting_at == "fever"
    call.press("7")
    assert call.waiting_at == "fever"
    assert "không có trong lựa chọn" in call.last_heard()
    assert "sốt" in call.last_heard()
    call.press("5", "6")  # three wrong keys: retries (2) used up, the default is the next question
    assert call.waiting_at == "cough"
    assert call.state["values"]["fever"] is None
    wrong = [a for a in call.answers if a.node == "fever"]
    assert [a.key for a in wrong] == ["7", "5", "6"] and all(a.value == "" for a in wrong)


def test_silence_at_the_first_question_ends_politely():
    call = EngineCall("f1_tracing").start()
    call.silence()
    assert "chưa nghe thấy" in call.last_heard()
    call.silence(2)
    assert call.state["finished"]
    assert call.state["outcome"] == "no_input"
    assert "Nhân viên y tế sẽ liên hệ lại" in call.last_heard()


def test_star_repeats_the_question_without_using_a_try():
    call = _f1_confirmed()
    before = call.last_heard()
    call.press("*")
    assert call.waiting_at == "fever"
    assert call.state["tries"] == 0
    assert call.last_heard() == "Mấy ngày nay anh chị có bị sốt không?"
    assert before.endswith("Mấy ngày nay anh chị có bị sốt không?")


def test_nine_asks_to_confirm_the_opt_out_and_one_confirms_it():
    call = _f1_confirmed().press("9")
    assert "phím 9" in call.last_heard()
    assert call.state["waiting"] == "optout_confirm"
    call.press("1")
    assert call.effect_kinds() == ["opt_out"]
    assert call.state["outcome"] == "opted_out"
    assert call.state["finished"]
    assert "không gọi tự động cho số này nữa" in call.last_heard()


def test_nine_then_two_carries_on_with_the_same_question():
    call = _f1_confirmed().press("9", "2")
    assert "opt_out" not in call.effect_kinds()
    assert call.waiting_at == "fever"
    assert "tiếp tục" in call.last_heard()
    call.press("1")
    assert call.waiting_at == "cough"


def test_speech_answers_a_yes_no_question():
    call = _f1_confirmed().say("dạ không có")
    assert call.waiting_at == "cough"
    assert call.state["values"]["fever"] == "no"
    call.say("có ạ")
    assert call.state["values"]["cough"] == "yes"


def test_hang_up_midway_keeps_the_answers_as_a_partial_report():
    call = _f1_confirmed().press("1", "2")
    state, effects = engine.hang_up(call.flow, call.state)
    assert state["outcome"] == "hung_up" and state["finished"]
    assert [e.kind for e in effects] == ["create_report"]
    assert effects[0].data["partial"] is True
    assert effects[0].data["symptoms"] == ["fever"]
    # A call that already reported does not report twice.
    done = _f1_confirmed().press("2", "2", "2", "2", "2", "2", "1")
    assert engine.hang_up(done.flow, done.state)[1] == []


def test_english_speaking_contact_hears_english():
    call = EngineCall("f1_tracing", context={"name": "Anna"}).start(language="en")
    says = ET.fromstring(call.twiml).findall(".//Say")
    assert {s.attrib["language"] for s in says} == {"en-US"}
    assert "We would like to speak to Anna" in call.last_heard()


def test_engine_does_not_change_the_state_it_was_given():
    call = _f1_confirmed()
    before = {k: v for k, v in call.state.items()}
    engine.advance(call.flow, call.state, CallInput(digits="1"), situation=call.situation())
    assert call.state == before


def test_bluezone_link_by_sms_after_hearing_again():
    call = EngineCall("bluezone_guide", context={"name": "An"}).start().press("1")
    assert call.waiting_at == "menu"
    call.press("2")
    assert "CH Play" in call.last_heard()
    assert call.waiting_at == "menu"
    call.press("1")
    sms = [e for e in call.effects if e.kind == "send_sms"]
    assert len(sms) == 1
    assert sms[0].data["to"] == "+84901234567"
    assert "https://www.bluezone.gov.vn" in sms[0].data["body"]
    assert call.state["finished"]


def test_f0_checkin_reads_temperature_and_spo2_and_escalates_low_spo2():
    call = EngineCall(
        "f0_daily_checkin", context={"name": "An", "monitoring_day": 4, "monitoring_days": 10}
    ).start()
    call.press("1")
    assert "ngày thứ 4 trong 10 ngày" in call.last_heard()
    gather = ET.fromstring(call.twiml).find("Gather")
    assert gather is not None
    assert gather.attrib["finishOnKey"] == "#" and "numDigits" not in gather.attrib
    call.press("385", "92")
    assert call.state["temperature"] == 38.5
    assert call.state["spo2"] == 92
    assert "escalate" in call.effect_kinds()
    assert "SpO2 92 phần trăm là thấp" in call.last_heard()
    call.press("2", "2", "2")
    report = [e for e in call.effects if e.kind == "create_report"][-1]
    assert report.data["urgent"] is True and report.data["urgent_reasons"] == ["low_spo2"]
    assert "Bác sĩ trực sẽ liên hệ" in call.last_heard()


def test_f0_checkin_normal_day_is_not_urgent_and_hard_breathing_is():
    calm = EngineCall("f0_daily_checkin").start().press("1", "37", "98", "2", "2", "2")
    assert "escalate" not in calm.effect_kinds()
    assert calm.state["temperature"] == 37
    assert "Ngày mai chúng tôi sẽ gọi lại" in calm.last_heard()
    breathless = EngineCall("f0_daily_checkin").start().press("1", "37", "97", "1")
    assert breathless.state["urgent_reasons"] == ["hard_breathing"]


def test_f0_checkin_refuses_an_impossible_reading_and_nine_still_opts_out():
    call = EngineCall("f0_daily_checkin").start().press("1", "25")
    assert call.waiting_at == "temperature"
    assert "không có trong lựa chọn" in call.last_heard()
    call.press("9")
    assert call.state["waiting"] == "optout_confirm"


def test_keys_that_are_not_plain_digits_are_asked_again_not_a_crash():
    # "³" passes str.isdigit() but is no number; the caller hears the reading asked again.
    call = EngineCall("f0_daily_checkin").start().press("1", "3³7")
    assert call.waiting_at == "temperature"
    assert call.state.get("temperature") is None
    assert "không có trong lựa chọn" in call.last_heard()


def test_f0_checkin_threshold_comes_from_the_flow():
    call = EngineCall("f0_daily_checkin").start().press("1", "37", "95")
    assert "escalate" not in call.effect_kinds()  # 95 is not below the default threshold 95


def test_hotline_greeting_differs_outside_office_hours():
    day = EngineCall("hotline").start()
    night = EngineCall("hotline", now=NIGHT_TIME).start()
    assert "ngoài giờ làm việc" not in day.last_heard()
    assert "ngoài giờ làm việc" in night.last_heard()
    assert day.waiting_at == night.waiting_at == "main_menu"


def test_hotline_common_question_by_speech_and_by_keypad():
    call = EngineCall("hotline").start().press("3")
    gather = ET.fromstring(call.twiml).find("Gather")
    assert gather is not None
    assert gather.attrib["input"] == "dtmf speech" and gather.attrib["language"] == "vi-VN"
    assert "bấm phím 1" in call.last_heard()
    call.say("F1 thì phải cách ly mấy ngày")
    assert "tự cách ly tại nhà" in call.last_heard()
    assert call.waiting_at == "faq_more"
    call.press("1", "5")
    assert "CH Play" in call.last_heard()


def test_hotline_question_it_cannot_answer_offers_the_menu_or_a_message():
    call = EngineCall("hotline").start().press("3").say("giá vàng hôm nay bao nhiêu")
    assert "chưa hiểu rõ" in call.last_heard()
    assert call.waiting_at == "faq_fallback"
    kept = [a for a in call.answers if a.node == "faq_question"]
    assert kept[-1].speech == "giá vàng hôm nay bao nhiêu"
    call.press("0")
    assert call.waiting_at == "message_record"


def test_hotline_message_and_declaration_make_reports():
    message = EngineCall("hotline").start().press("0")
    message.send(CallInput(recording_url="https://rec.example/RE9", recording_seconds=20))
    report = [e for e in message.effects if e.kind == "create_report"][-1]
    assert report.data["kind"] == "message"
    assert report.data["recordings"] == ["https://rec.example/RE9"]

    declaration = EngineCall("hotline").start().press("2", "1")
    declaration.send(CallInput(recording_url="https://rec.example/A", recording_seconds=8))
    declaration.press("1")
    declaration.send(CallInput(recording_url="https://rec.example/B", recording_seconds=12))
    report = [e for e in declaration.effects if e.kind == "create_report"][-1]
    assert report.data["kind"] == "declaration"
    assert report.data["answers"]["travelled"] == "yes"
    assert report.data["answers"]["declared_contact"] == "yes"
    assert report.data["recordings"] == ["https://rec.example/A", "https://rec.example/B"]
    assert declaration.state["finished"]


def test_a_recording_with_nothing_said_is_asked_again():
    call = EngineCall("hotline").start().press("0")
    call.send(CallInput(recording_url="https://rec.example/empty", recording_seconds=0))
    assert call.waiting_at == "message_record"
    assert call.state["recordings"] == []


def test_a_recorded_audio_file_may_replace_the_synthesised_voice(tmp_path):
    import shutil

    from robocall.ivr.library import load_folder
    from tests.ivr.driver import FLOWS

    shutil.copytree(FLOWS, tmp_path / "ivr_flows")
    path = tmp_path / "ivr_flows" / "f1_tracing.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "    symptom: fever\n",
        "    symptom: fever\n    audio: {vi: 'https://audio.example/sot.mp3'}\n",
    )
    path.write_text(text, encoding="utf-8")
    library = load_folder(tmp_path / "ivr_flows")
    assert library.problems == []
    call = EngineCall("f1_tracing", library=library).start().press("1")
    gather = ET.fromstring(call.twiml).find("Gather")
    assert gather is not None
    assert gather.findtext("Play") == "https://audio.example/sot.mp3"
    # The question is still stored as its text for staff.
    call.press("2")
    assert [a.question for a in call.answers if a.node == "fever"] == [
        "Mấy ngày nay anh chị có bị sốt không?"
    ]
