"""TwiML documents, written with the standard XML library (only `telephony/` imports twilio)."""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, tostring


class Twiml:
    """A `<Response>` being built: say, play, gather, record, dial, hang up."""

    def __init__(self) -> None:
        self.root = Element("Response")

    @staticmethod
    def _say(parent: Element, text: str, voice: str, language: str) -> None:
        if text.strip():
            SubElement(parent, "Say", voice=voice, language=language).text = text.strip()

    def say(self, text: str, *, voice: str, language: str) -> None:
        self._say(self.root, text, voice, language)

    def play(self, url: str) -> None:
        SubElement(self.root, "Play").text = url

    def gather(
        self,
        *,
        action: str,
        prompts: list[tuple[str, str | None]],  # (text to say, or None; audio URL or None)
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
        gather = SubElement(self.root, "Gather", attributes)
        for text, audio in prompts:
            if audio:
                SubElement(gather, "Play").text = audio
            elif text:
                self._say(gather, text, voice, language)

    def record(self, *, action: str, max_seconds: int, timeout: int = 5) -> None:
        SubElement(
            self.root,
            "Record",
            action=action,
            method="POST",
            maxLength=str(max_seconds),
            timeout=str(timeout),
            finishOnKey="#",
            playBeep="true",
        )

    def dial(self, *, number: str, action: str, timeout: int, caller_id: str | None) -> None:
        attributes = {"action": action, "method": "POST", "timeout": str(timeout)}
        if caller_id:
            attributes["callerId"] = caller_id
        dial = SubElement(self.root, "Dial", attributes)
        SubElement(dial, "Number").text = number

    def hangup(self) -> None:
        SubElement(self.root, "Hangup")

    def to_xml(self) -> str:
        body = tostring(self.root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>{body}'


def hangup_document(text: str | None = None, *, voice: str = "", language: str = "vi-VN") -> str:
    """A TwiML answer that (optionally says something and) ends the call."""
    document = Twiml()
    if text:
        document.say(text, voice=voice, language=language)
    document.hangup()
    return document.to_xml()
