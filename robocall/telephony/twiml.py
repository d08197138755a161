"""TwiML documents: how Twilio (and the simulator) hear a `CallScript`.

Written as text rather than through an XML tree: a document is a handful of flat elements,
and it is built for every key a caller presses. The output is what `xml.etree` would write
for the same elements (`tests/ivr/test_twiml.py` checks that).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from robocall.telephony.voice import CallScript, Dial, Gather, Hangup, Play, Record, Say

_SPECIAL = re.compile(r"[&<>]")
_SPECIAL_IN_ATTRIBUTES = re.compile(r'[&<>"\r\n\t]')
_ATTRIBUTE_ESCAPES = (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;"))


def _escape_text(text: str) -> str:
    if _SPECIAL.search(text) is None:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(value: str) -> str:
    if _SPECIAL_IN_ATTRIBUTES.search(value) is None:
        return value
    value = _escape_text(value)
    for character, escaped in _ATTRIBUTE_ESCAPES:
        value = value.replace(character, escaped)
    return value


def _start(tag: str, attributes: Mapping[str, str]) -> str:
    pairs = "".join(f' {name}="{_escape_attribute(value)}"' for name, value in attributes.items())
    return f"<{tag}{pairs}"


def _element(tag: str, text: str | None = None, **attributes: str) -> str:
    return _container(tag, attributes, _escape_text(text) if text else "")


def _container(tag: str, attributes: Mapping[str, str], inner: str) -> str:
    """An element around `inner` (markup already written), or empty."""
    start = _start(tag, attributes)
    return f"{start}>{inner}</{tag}>" if inner else f"{start} />"


class Twiml:
    """A `<Response>` being built: say, play, gather, record, dial, hang up."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    @staticmethod
    def _say(parts: list[str], text: str, voice: str, language: str) -> None:
        if text.strip():
            parts.append(_element("Say", text.strip(), voice=voice, language=language))

    def say(self, text: str, *, voice: str, language: str) -> None:
        self._say(self.parts, text, voice, language)

    def play(self, url: str) -> None:
        self.parts.append(_element("Play", url))

    def gather(
        self,
        *,
        action: str,
        prompts: list[tuple[str | None, str | None]],  # (text to say; audio URL), one of them
        voice: str,
        language: str,
        timeout: int,
        num_digits: int | None = None,
        finish_on_key: str | None = None,
        speech: bool = False,
        dtmf: bool = True,
    ) -> None:
        """A question: the prompts inside <Gather>, which posts even on silence."""
        attributes = {
            "action": action,
            "method": "POST",
            "timeout": str(timeout),
            "actionOnEmptyResult": "true",
            "input": " ".join(name for name, on in (("dtmf", dtmf), ("speech", speech)) if on),
        }
        if num_digits is not None:
            attributes["numDigits"] = str(num_digits)
        if finish_on_key is not None:
            attributes["finishOnKey"] = finish_on_key
        if speech:
            attributes["language"] = language
            attributes["speechTimeout"] = "auto"
        inner: list[str] = []
        for text, audio in prompts:
            if audio:
                inner.append(_element("Play", audio))
            elif text:
                self._say(inner, text, voice, language)
        self.parts.append(_container("Gather", attributes, "".join(inner)))

    def record(self, *, action: str, max_seconds: int, timeout: int = 5) -> None:
        self.parts.append(
            _element(
                "Record",
                action=action,
                method="POST",
                maxLength=str(max_seconds),
                timeout=str(timeout),
                finishOnKey="#",
                playBeep="true",
            )
        )

    def dial(self, *, number: str, action: str, timeout: int, caller_id: str | None) -> None:
        attributes = {"action": action, "method": "POST", "timeout": str(timeout)}
        if caller_id:
            attributes["callerId"] = caller_id
        self.parts.append(_container("Dial", attributes, _element("Number", number)))

    def hangup(self) -> None:
        self.parts.append(_element("Hangup"))

    def to_xml(self) -> str:
        response = _container("Response", {}, "".join(self.parts))
        return f'<?xml version="1.0" encoding="UTF-8"?>{response}'


def hangup_document(text: str | None = None, *, voice: str = "", language: str = "vi-VN") -> str:
    """A TwiML answer that (optionally says something and) ends the call."""
    document = Twiml()
    if text:
        document.say(text, voice=voice, language=language)
    document.hangup()
    return document.to_xml()


def render_twiml(script: CallScript) -> str:
    """The TwiML document of a call script."""
    document = Twiml()
    for action in script.actions:
        match action:
            case Say(text=text, voice=voice, language=language):
                document.say(text, voice=voice, language=language)
            case Play(url=url):
                document.play(url)
            case Gather():
                document.gather(
                    action=action.action,
                    prompts=[
                        (p.text, None) if isinstance(p, Say) else (None, p.url)
                        for p in action.prompts
                    ],
                    voice=action.voice,
                    language=action.language,
                    timeout=action.timeout,
                    num_digits=action.num_digits,
                    finish_on_key=action.finish_on_key,
                    speech=action.speech,
                    dtmf=action.dtmf,
                )
            case Record(action=url, max_seconds=max_seconds, timeout=timeout):
                document.record(action=url, max_seconds=max_seconds, timeout=timeout)
            case Dial(number=number, action=url, timeout=timeout, caller_id=caller_id):
                document.dial(number=number, action=url, timeout=timeout, caller_id=caller_id)
            case Hangup():
                document.hangup()
    return document.to_xml()
