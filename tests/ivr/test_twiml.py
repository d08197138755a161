"""TwiML documents: what the provider reads is well-formed and says exactly the flow's text."""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, fromstring, tostring

from robocall.telephony.twiml import Twiml, hangup_document

VOICE, LANGUAGE = "Google.vi-VN-Standard-A", "vi-VN"
TRICKY = 'Chị Lê Thị Ánh & "Bé" <Na>,\nngày 3/14'


def _written(document: Twiml) -> str:
    return document.to_xml()


def test_a_question_keeps_its_words_and_attributes_through_the_xml() -> None:
    document = Twiml()
    document.say(f"  {TRICKY}  ", voice=VOICE, language=LANGUAGE)
    document.gather(
        action="https://robocall.example/webhooks/twilio/gather?step=2&x=<1>",
        prompts=[(TRICKY, None), ("", "https://audio.example/a b.mp3"), ("   ", None)],
        voice=VOICE,
        language=LANGUAGE,
        timeout=6,
        num_digits=1,
        finish_on_key="#",
        speech=True,
    )
    root = fromstring(_written(document).encode())

    say, gather = list(root)
    assert say.tag == "Say" and say.text == TRICKY.strip()
    assert say.attrib == {"voice": VOICE, "language": LANGUAGE}
    assert gather.attrib["action"].endswith("?step=2&x=<1>")
    assert gather.attrib["input"] == "dtmf speech" and gather.attrib["numDigits"] == "1"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert [(child.tag, child.text) for child in gather] == [
        ("Say", TRICKY),
        ("Play", "https://audio.example/a b.mp3"),
    ]


def test_documents_are_written_as_the_standard_xml_library_writes_them() -> None:
    """Stored last answers are replayed to duplicate posts: the text form must not drift."""
    document = Twiml()
    document.say(TRICKY, voice=VOICE, language=LANGUAGE)
    document.gather(action="/g?step=1", prompts=[], voice=VOICE, language=LANGUAGE, timeout=5)
    document.record(action="/g?step=2", max_seconds=60)
    document.dial(number="+84901234567", action="/g?step=3", timeout=20, caller_id="+842873001234")
    document.play("https://audio.example/x.mp3")
    document.hangup()

    expected = Element("Response")
    SubElement(expected, "Say", voice=VOICE, language=LANGUAGE).text = TRICKY
    SubElement(
        expected,
        "Gather",
        {
            "action": "/g?step=1",
            "method": "POST",
            "timeout": "5",
            "actionOnEmptyResult": "true",
            "input": "dtmf",
        },
    )
    SubElement(
        expected,
        "Record",
        action="/g?step=2",
        method="POST",
        maxLength="60",
        timeout="5",
        finishOnKey="#",
        playBeep="true",
    )
    dial = SubElement(
        expected,
        "Dial",
        {"action": "/g?step=3", "method": "POST", "timeout": "20", "callerId": "+842873001234"},
    )
    SubElement(dial, "Number").text = "+84901234567"
    SubElement(expected, "Play").text = "https://audio.example/x.mp3"
    SubElement(expected, "Hangup")
    header = '<?xml version="1.0" encoding="UTF-8"?>'
    assert _written(document) == header + tostring(expected, encoding="unicode")


def test_a_hang_up_says_goodbye_first_when_given_words() -> None:
    root = fromstring(hangup_document("Cảm ơn anh/chị.", voice=VOICE).encode())
    assert [(child.tag, child.text) for child in root] == [
        ("Say", "Cảm ơn anh/chị."),
        ("Hangup", None),
    ]
    assert [child.tag for child in fromstring(hangup_document().encode())] == ["Hangup"]
