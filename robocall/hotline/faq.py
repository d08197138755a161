"""Common questions (`ivr_flows/faq.yaml`) and the matcher that finds the answer to a question.

Matching ranks the questions with Okapi BM25 over Vietnamese syllables and syllable bigrams
(Vietnamese words are mostly one or two syllables, so bigrams stand in for words). Text is
normalised to NFC and lower case; a question typed or recognised without tone marks is matched
against an index with the diacritics removed, as a fallback. Each question has several
phrasings; a question scores as its best phrasing. The confidence is the share of the caller's
informative words (weighted by IDF) that the best phrasing contains: below the threshold the
hotline says it did not understand.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from robocall.kit.text import nfc, strip_diacritics, syllables
from robocall.kit.yamlfile import LineDict, LineList, Problem

DEFAULT_THRESHOLD = 0.4
# How much the whole-question view adds to the best phrasing's score.
WHOLE_QUESTION_WEIGHT = 0.4
# Score factor for each topic word missing on one side (see Faq.key_terms).
KEY_MISS_FACTOR = 0.6
_K1 = 1.2
_B = 0.75
# Syllables that carry no topic in a spoken question ("cho tôi hỏi là ..."): they neither
# score nor count towards the confidence.
FILLER = frozenset(
    "à ạ ơi dạ vâng cho tôi hỏi mình em anh chị cô chú bác ông bà cháu con là thì mà "
    "thế nào vậy nhé nha với của và hay hoặc có không được ấy này kia đó nhỉ ừ xin "
    "muốn biết cần làm gì sao bị đã rồi đang sẽ phải nên các những một".split()
)
_FILLER_PLAIN = frozenset(strip_diacritics(w) for w in FILLER)


def has_diacritics(text: str) -> bool:
    return strip_diacritics(nfc(text)) != nfc(text)


def terms(words: list[str], filler: frozenset[str]) -> list[str]:
    """Syllables (fillers dropped) and syllable bigrams (fillers kept, so phrases hold)."""
    unigrams = [w for w in words if w not in filler]
    bigrams = [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    return unigrams + bigrams


@dataclass
class FaqQuestion:
    id: str
    phrasings: list[str]
    answer_vi: str
    answer_en: str | None
    title_vi: str
    title_en: str | None
    line: int

    def answer(self, language: str) -> str:
        return self.answer_en if language == "en" and self.answer_en else self.answer_vi

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_vi


@dataclass
class FaqMatch:
    question: FaqQuestion
    score: float
    confidence: float  # 0–1: share of the asked words' IDF weight the best phrasing covers


class _Index:
    """BM25 over one view of the phrasings (with or without diacritics)."""

    def __init__(self, documents: list[list[str]]) -> None:
        self.documents = [Counter(d) for d in documents]
        self.lengths = [len(d) for d in documents]
        self.average = (sum(self.lengths) / len(documents)) if documents else 1.0
        frequency: Counter[str] = Counter()
        for document in self.documents:
            frequency.update(document.keys())
        total = len(documents)
        self.idf = {
            term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in frequency.items()
        }
        # A word no phrasing uses is as informative as the rarest one.
        self.unknown_idf = math.log(1 + (total + 0.5) / 0.5)

    def score(self, query: list[str], doc: int) -> tuple[float, float]:
        """BM25 score of one document, and the IDF weight of the query terms it contains."""
        document = self.documents[doc]
        norm = _K1 * (1 - _B + _B * self.lengths[doc] / self.average)
        score = 0.0
        covered = 0.0
        for term in set(query):
            tf = document.get(term, 0)
            if not tf:
                continue
            idf = self.idf[term]
            score += idf * tf * (_K1 + 1) / (tf + norm)
            if "_" not in term:
                covered += idf
        return score, covered

    def covered(self, query: list[str], document: Counter[str]) -> float:
        """The IDF weight (in this index) of the query's syllables found in `document`."""
        return sum(
            self.idf.get(t, self.unknown_idf) for t in set(query) if "_" not in t and t in document
        )

    def weight(self, query: list[str]) -> float:
        """The IDF weight of the query's syllables (bigrams rank, they do not count here)."""
        return sum(self.idf.get(t, self.unknown_idf) for t in set(query) if "_" not in t)


@dataclass
class Faq:
    questions: list[FaqQuestion]
    threshold: float = DEFAULT_THRESHOLD
    # Spelling → the word the phrasings use ("vaccine" → "vắc xin", "test" → "xét nghiệm").
    synonyms: dict[str, str] = field(default_factory=dict)
    # Words that decide the topic (F0, F1, F2, vắc xin …): a question that lacks one the caller
    # said, or whose title names one the caller did not say, ranks lower.
    key_terms: list[str] = field(default_factory=list)
    _owners: list[int] = field(default_factory=list, repr=False)
    _synonyms: list[tuple[tuple[str, ...], list[str]]] = field(default_factory=list, repr=False)
    _whole_accented: _Index | None = field(default=None, repr=False)
    _whole_plain: _Index | None = field(default=None, repr=False)
    _keys: list[str] = field(default_factory=list, repr=False)
    _cover: list[Counter[str]] = field(default_factory=list, repr=False)
    _question_keys: list[tuple[set[str], set[str]]] = field(default_factory=list, repr=False)
    _accented: _Index | None = field(default=None, repr=False)
    _plain: _Index | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Longest first, so "test nhanh" wins over "test"; both views (with and without marks).
        pairs: dict[tuple[str, ...], list[str]] = {}
        for spelling, word in self.synonyms.items():
            target = syllables(word)
            pairs[tuple(syllables(spelling))] = target
            pairs[tuple(strip_diacritics(w) for w in syllables(spelling))] = target
        self._synonyms = sorted(pairs.items(), key=lambda item: -len(item[0]))
        accented: list[list[str]] = []
        plain: list[list[str]] = []
        for number, question in enumerate(self.questions):
            for phrasing in question.phrasings:
                words = self.words(phrasing)
                accented.append(terms(words, FILLER))
                plain.append(terms([strip_diacritics(w) for w in words], _FILLER_PLAIN))
                self._owners.append(number)
        self._accented = _Index(accented)
        self._plain = _Index(plain)
        # A second view: each question as one document (title, every phrasing, the answer),
        # so words spread over several phrasings, or only in the answer, still count a little.
        whole_accented: list[list[str]] = []
        whole_plain: list[list[str]] = []
        for question in self.questions:
            text = " . ".join([question.title_vi, *question.phrasings, question.answer_vi])
            words = self.words(text)
            whole_accented.append(terms(words, FILLER))
            whole_plain.append(terms([strip_diacritics(w) for w in words], _FILLER_PLAIN))
        self._whole_accented = _Index(whole_accented)
        self._whole_plain = _Index(whole_plain)
        # The words of each question's title and phrasings, both views: what the confidence
        # counts as covered (the answer's words rank, but do not make the matcher sure).
        self._cover = []
        for question in self.questions:
            words = self.words(" . ".join([question.title_vi, *question.phrasings]))
            plain_words = [strip_diacritics(w) for w in words]
            self._cover.append(Counter(terms(words, FILLER) + terms(plain_words, _FILLER_PLAIN)))
        self._keys = [" ".join(syllables(term)) for term in self.key_terms]
        self._question_keys: list[tuple[set[str], set[str]]] = []
        for question in self.questions:
            whole = self._padded(
                " . ".join([question.title_vi, *question.phrasings, question.answer_vi])
            )
            title = self._padded(question.title_vi)
            self._question_keys.append((self._keys_in(whole), self._keys_in(title)))

    def words(self, text: str) -> list[str]:
        """The syllables of a text with synonyms replaced by the words the phrasings use."""
        words = syllables(text)
        if not self._synonyms:
            return words
        result: list[str] = []
        position = 0
        while position < len(words):
            for spelling, target in self._synonyms:
                size = len(spelling)
                if size and tuple(words[position : position + size]) == spelling:
                    result.extend(target)
                    position += size
                    break
            else:
                result.append(words[position])
                position += 1
        return result

    def _padded(self, text: str) -> str:
        return " " + " ".join(strip_diacritics(w) for w in self.words(text)) + " "

    def _keys_in(self, padded: str) -> set[str]:
        return {key for key in self._keys if f" {strip_diacritics(key)} " in padded}

    def by_id(self, question_id: str) -> FaqQuestion | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def rank(self, text: str) -> list[FaqMatch]:
        """Every question, best first, for a question asked in free text."""
        words = self.words(text)
        plain_words = [strip_diacritics(w) for w in words]
        results = self._rank(self._plain, self._whole_plain, terms(plain_words, _FILLER_PLAIN))
        if has_diacritics(text):
            accented = self._rank(self._accented, self._whole_accented, terms(words, FILLER))
            # Tone marks tell words apart: the plain view is the fallback, used only when the
            # accented one is unsure and the plain one is not.
            if accented and (
                accented[0].confidence >= self.threshold
                or not results
                or results[0].confidence < self.threshold
            ):
                return accented
        return results

    def match(self, text: str) -> FaqMatch | None:
        """The best question when the matcher is confident enough, else None."""
        ranked = self.rank(text)
        if not ranked or ranked[0].confidence < self.threshold:
            return None
        return ranked[0]

    def _rank(self, index: _Index | None, whole: _Index | None, query: list[str]) -> list[FaqMatch]:
        if index is None or whole is None or not query:
            return []
        weight = index.weight(query) or 1.0
        best: dict[int, tuple[float, float]] = {}
        for doc, owner in enumerate(self._owners):
            score, covered = index.score(query, doc)
            if score > best.get(owner, (0.0, 0.0))[0]:
                best[owner] = (score, covered)
        asked = self._keys_in(self._padded(" ".join(w for w in query if "_" not in w)))
        for owner in range(len(self.questions)):
            extra, _ = whole.score(query, owner)
            score, covered = best.get(owner, (0.0, 0.0))
            # The caller's words may be spread over the question's phrasings and title.
            covered = max(covered, index.covered(query, self._cover[owner]))
            anywhere, in_title = self._question_keys[owner]
            misses = len(asked - anywhere) + (1 if in_title and not in_title & asked else 0)
            best[owner] = (
                (score + WHOLE_QUESTION_WEIGHT * extra) * KEY_MISS_FACTOR**misses,
                covered,
            )
        ranked = sorted(
            ((o, v) for o, v in best.items() if v[0] > 0), key=lambda item: item[1][0], reverse=True
        )
        return [
            FaqMatch(self.questions[owner], score, min(1.0, covered / weight))
            for owner, (score, covered) in ranked
        ]


def _text(raw: Any) -> tuple[str | None, str | None]:
    if isinstance(raw, str):
        return nfc(raw).strip(), None
    if isinstance(raw, dict):
        vi, en = raw.get("vi"), raw.get("en")
        return (
            nfc(vi).strip() if isinstance(vi, str) else None,
            en.strip() if isinstance(en, str) else None,
        )
    return None, None


def parse_faq(data: LineDict, file: str) -> tuple[Faq, list[Problem]]:
    """Build the FAQ from a parsed `kind: faq` file; return it and every problem found."""
    problems: list[Problem] = []
    threshold = data.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        problems.append(Problem(file, data.line_of("threshold"), "`threshold:` is between 0 and 1"))
        threshold = DEFAULT_THRESHOLD
    synonyms: dict[str, str] = {}
    raw_synonyms = data.get("synonyms")
    if raw_synonyms is None:
        pass
    elif not isinstance(raw_synonyms, LineDict):
        problems.append(Problem(file, data.line_of("synonyms"), "`synonyms:` maps words to lists"))
    else:
        for word, spellings in raw_synonyms.items():
            if not isinstance(spellings, list):
                problems.append(
                    Problem(file, raw_synonyms.line_of(word), f"synonyms of {word!r}: a list")
                )
                continue
            for spelling in spellings:
                synonyms[nfc(str(spelling)).lower()] = nfc(str(word)).lower()
    key_terms = data.get("key_terms", [])
    if not isinstance(key_terms, list):
        problems.append(Problem(file, data.line_of("key_terms"), "`key_terms:` is a list"))
        key_terms = []
    raw = data.get("questions")
    questions: list[FaqQuestion] = []
    if not isinstance(raw, LineList) or not raw:
        problems.append(Problem(file, data.line_of("questions"), "`questions:` is a list"))
        return Faq([], float(threshold), synonyms, [str(k) for k in key_terms]), problems
    seen: dict[str, int] = {}
    for item, line in zip(raw, raw.item_lines, strict=True):
        if not isinstance(item, LineDict):
            problems.append(Problem(file, line, "a question needs `id:`, `phrasings:`, `answer:`"))
            continue
        question_id = item.get("id")
        if not isinstance(question_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", question_id):
            problems.append(Problem(file, item.line_of("id"), "`id:` is a lower-case word"))
            continue
        if question_id in seen:
            problems.append(
                Problem(
                    file,
                    item.line_of("id"),
                    f"duplicate question id {question_id!r} (first on line {seen[question_id]})",
                )
            )
            continue
        seen[question_id] = item.line_of("id")
        phrasings = item.get("phrasings")
        if not isinstance(phrasings, list) or len(phrasings) < 2:
            problems.append(
                Problem(file, item.line_of("phrasings"), f"{question_id}: give 2+ phrasings")
            )
            continue
        answer_vi, answer_en = _text(item.get("answer"))
        title_vi, title_en = _text(item.get("title"))
        if not answer_vi:
            problems.append(
                Problem(file, item.line_of("answer"), f"{question_id}: `answer:` needs `vi:`")
            )
            continue
        if not title_vi:
            problems.append(
                Problem(file, item.line_of("title"), f"{question_id}: `title:` needs `vi:`")
            )
            continue
        questions.append(
            FaqQuestion(
                id=question_id,
                phrasings=[nfc(str(p)) for p in phrasings],
                answer_vi=answer_vi,
                answer_en=answer_en,
                title_vi=title_vi,
                title_en=title_en,
                line=line,
            )
        )
    return Faq(questions, float(threshold), synonyms, [str(k) for k in key_terms]), problems
