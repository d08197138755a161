"""The FAQ matcher on the committed evaluation set, and its normalisation of Vietnamese."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import yaml

from robocall.kit.text import syllables
from tests.ivr.driver import bundled_library

EVAL = Path(__file__).with_name("faq_eval.yaml")


def _cases() -> list[dict]:
    return yaml.safe_load(EVAL.read_text(encoding="utf-8"))["cases"]


def test_evaluation_set_is_not_copied_from_the_faq():
    faq = bundled_library().faq
    phrasings = {" ".join(syllables(p)) for q in faq.questions for p in q.phrasings}
    for case in _cases():
        assert " ".join(syllables(case["text"])) not in phrasings, case["text"]
    expected = {c["expect"] for c in _cases() if c["expect"]}
    assert expected == {q.id for q in faq.questions}  # every question is measured


def test_top1_accuracy_on_the_evaluation_set_is_at_least_90_percent():
    faq = bundled_library().faq
    in_scope = [c for c in _cases() if c["expect"]]
    right = [c for c in in_scope if (m := faq.match(c["text"])) and m.question.id == c["expect"]]
    accuracy = len(right) / len(in_scope)
    assert len(in_scope) >= 50
    assert accuracy >= 0.9, f"top-1 accuracy {accuracy:.1%}"


def test_most_questions_it_cannot_answer_are_refused():
    faq = bundled_library().faq
    outside = [c["text"] for c in _cases() if c["expect"] is None]
    refused = [text for text in outside if faq.match(text) is None]
    assert len(refused) >= len(outside) - 1, set(outside) - set(refused)


def test_decomposed_upper_case_and_unaccented_text_match_alike():
    faq = bundled_library().faq
    question = "Xét nghiệm COVID ở đâu vậy?"
    decomposed = unicodedata.normalize("NFD", question.upper())
    unaccented = "xet nghiem covid o dau vay"
    ids = {faq.match(text).question.id for text in (question, decomposed, unaccented)}
    assert ids == {"testing_where"}


def test_synonyms_bring_loan_words_to_the_faq_words():
    faq = bundled_library().faq
    assert faq.words("đăng ký tiêm vaccine") == ["đăng", "ký", "tiêm", "vắc", "xin"]
    assert faq.match("đăng ký tiêm vaccine ở đâu").question.id == "vaccination_register"


def test_free_text_sms_questions_get_the_same_answers():
    from robocall.ivr.answers import answer_question

    answer = answer_question(text="cho hoi tai bluezone o dau")
    assert answer is not None and answer.question_id == "bluezone_install"
    assert "CH Play" in answer.answer
    assert answer_question(text="xe buýt số 8 chạy mấy giờ") is None
