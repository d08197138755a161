"""Answers to common questions asked in free text (inbound SMS, the web), from faq.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from robocall.ivr.library import get_library


@dataclass(frozen=True)
class QuestionAnswer:
    question_id: str
    answer: str
    confidence: float  # 0–1, see robocall.hotline.faq


def answer_question(*, text: str, language: str = "vi") -> QuestionAnswer | None:
    """The FAQ answer to a resident's question, or None when the matcher is not sure."""
    match = get_library().faq.match(text)
    if match is None:
        return None
    return QuestionAnswer(match.question.id, match.question.answer(language), match.confidence)
