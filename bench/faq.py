"""FAQ matching: top-1 accuracy on tests/hotline/faq_eval.yaml, refusals, and speed.

    uv run python bench/faq.py

The baseline, measured in the same run, is plain word overlap (Jaccard over syllables, always
answering); robocall's matcher is BM25 over syllables and bigrams with synonyms, topic words,
the diacritics fallback and a confidence threshold (robocall/hotline/faq.py).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import yaml

from robocall.config import PROJECT_ROOT
from robocall.hotline.faq import Faq, syllables
from robocall.ivr.library import load_folder

EVAL = PROJECT_ROOT / "tests" / "hotline" / "faq_eval.yaml"


def jaccard_top1(faq: Faq, text: str) -> str | None:
    asked = set(syllables(text))
    best, best_score = None, 0.0
    for question in faq.questions:
        for phrasing in question.phrasings:
            words = set(syllables(phrasing))
            score = len(asked & words) / len(asked | words) if asked | words else 0.0
            if score > best_score:
                best, best_score = question.id, score
    return best


def main() -> None:
    started = time.perf_counter()
    faq = load_folder(Path(PROJECT_ROOT / "ivr_flows")).faq
    load_ms = (time.perf_counter() - started) * 1000
    cases = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["cases"]
    in_scope = [c for c in cases if c["expect"]]
    outside = [c for c in cases if not c["expect"]]

    right = 0
    timings: list[float] = []
    for case in in_scope:
        begin = time.perf_counter()
        match = faq.match(case["text"])
        timings.append((time.perf_counter() - begin) * 1000)
        right += bool(match and match.question.id == case["expect"])
    refused = 0
    for case in outside:
        begin = time.perf_counter()
        refused += faq.match(case["text"]) is None
        timings.append((time.perf_counter() - begin) * 1000)
    baseline = sum(jaccard_top1(faq, c["text"]) == c["expect"] for c in in_scope)

    print(
        f"questions in faq.yaml: {len(faq.questions)}, phrasings: "
        f"{sum(len(q.phrasings) for q in faq.questions)}"
    )
    print(f"evaluation set: {len(in_scope)} answerable, {len(outside)} not answerable")
    print(f"top-1 accuracy (BM25 matcher): {right}/{len(in_scope)} = {right / len(in_scope):.1%}")
    print(f"refused when not answerable: {refused}/{len(outside)}")
    print(
        f"baseline top-1 (word overlap): {baseline}/{len(in_scope)} = "
        f"{baseline / len(in_scope):.1%}"
    )
    print(
        f"match time per question: median {statistics.median(timings):.2f} ms, "
        f"max {max(timings):.2f} ms; loading ivr_flows/: {load_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
