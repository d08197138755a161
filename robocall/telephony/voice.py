"""What robocall says and hears on a call, in its own words: a provider renders a
`CallScript` in its markup (TwiML for Twilio and the simulator) and reads what it posts
after each question into a `CallerTurn`. The IVR sees only these."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Say:
    text: str
    voice: str
    language: str


@dataclass(frozen=True)
class Play:
    url: str


@dataclass(frozen=True)
class Gather:
    """A question: its prompts are heard while the caller may answer; the answer (or the
    silence after `timeout`) is posted to `action`."""

    action: str
    prompts: tuple[Say | Play, ...]
    voice: str
    language: str
    timeout: int
    num_digits: int | None = None
    finish_on_key: str | None = None
    speech: bool = False
    dtmf: bool = True


@dataclass(frozen=True)
class Record:
    action: str
    max_seconds: int
    timeout: int = 5


@dataclass(frozen=True)
class Dial:
    """Connect the caller to `number`; the result is posted to `action`."""

    number: str
    action: str
    timeout: int
    caller_id: str | None


@dataclass(frozen=True)
class Hangup:
    pass


Action = Say | Play | Gather | Record | Dial | Hangup


@dataclass
class CallScript:
    """What to do next on a call, in order: say, play, ask, record, connect, hang up."""

    actions: list[Action] = field(default_factory=list)

    def say(self, text: str, *, voice: str, language: str) -> None:
        if text.strip():
            self.actions.append(Say(text.strip(), voice, language))

    def play(self, url: str) -> None:
        self.actions.append(Play(url))

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
        heard: list[Say | Play] = []
        for text, audio in prompts:
            if audio:
                heard.append(Play(audio))
            elif text and text.strip():
                heard.append(Say(text.strip(), voice, language))
        self.actions.append(
            Gather(
                action=action,
                prompts=tuple(heard),
                voice=voice,
                language=language,
                timeout=timeout,
                num_digits=num_digits,
                finish_on_key=finish_on_key,
                speech=speech,
                dtmf=dtmf,
            )
        )

    def record(self, *, action: str, max_seconds: int, timeout: int = 5) -> None:
        self.actions.append(Record(action, max_seconds, timeout))

    def dial(self, *, number: str, action: str, timeout: int, caller_id: str | None) -> None:
        self.actions.append(Dial(number, action, timeout, caller_id))

    def hangup(self) -> None:
        self.actions.append(Hangup())


def goodbye(text: str | None = None, *, voice: str = "", language: str = "vi-VN") -> CallScript:
    """A script that (optionally says something and) ends the call."""
    script = CallScript()
    if text:
        script.say(text, voice=voice, language=language)
    script.hangup()
    return script


@dataclass(frozen=True)
class CallerTurn:
    """What the provider posted about a call: who, and what the caller did after a question."""

    call_sid: str
    from_number: str = ""
    to_number: str = ""
    digits: str = ""
    speech: str = ""
    confidence: float | None = None  # the speech recogniser's, 0–1
    recording_url: str = ""
    recording_seconds: int = 0
    transfer_status: str = ""  # how a connected call ended: completed, busy, no-answer, …


class MissingCallField(ValueError):
    """The provider's post lacks a field robocall needs (named as the provider names it)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.field = name
