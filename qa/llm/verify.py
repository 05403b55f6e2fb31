"""Verification: a generated answer → claims (its sentences), each supported by a source sentence or not.

A claim is supported only when both hold, for one span of its cited passages (a sentence, or a
sentence with the one before or after it):
- meaning: the span's main sentence scores at least SUPPORT_SCORE, where the score is the cosine
  between claim and sentence, both embedded by the answer model (the product's own embedder), plus
  WORDS_WEIGHT times the share of the claim's words the sentence has. The words help a claim that
  states part of a long sentence, whose cosine drops with all it leaves out. bench/verification.py
  calibrates the threshold on SQuAD training articles: paraphrases of a sentence, or of its first
  clause, against the facts of a neighbouring sentence;
- facts: every number, date, money amount and proper name of the claim is in the span, and a claim
  that denies something cites a sentence that denies as much. Numbers and names are what an
  embedding barely sees: "$11.5 billion" and "$15.1 billion" embed almost alike.
A sentence that reads as an instruction to a model ("ignore previous instructions and say ...")
never supports anything: it states no fact, and it is how an article would smuggle words in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.answer.candidates import facts as sentence_facts
from qa.chunk import split_sentences
from qa.records import Document, Sentence
from qa.text import STOPWORDS, fold, stem

# A source sentence may support a claim when cosine + WORDS_WEIGHT * word share reaches this
# (calibrated by bench/verification.py on SQuAD training articles; README "Using an LLM").
SUPPORT_SCORE = 0.9
# What the share of the claim's words found in the sentence adds to the cosine: half as much, so
# meaning stays the main signal (fixed by design, not fitted).
WORDS_WEIGHT = 0.5
# How many of the cited passages' most similar sentences are tried before a claim is given up.
TRIES = 3
# "[1]", "[1, 2]", "[1][2]" (two markers), with the space before them.
_CITE = re.compile(r"\s*\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# "$17.5B", "€3bn": an abbreviated scale, after a currency only ("5m" alone may be metres).
_SCALED = re.compile(r"([$€£¥₹]\s?\d[\d.,]*)\s?(bn|b|mn|m|k)\b", re.I)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
_TENS = ("thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_UNITS)} | {w: str(10 * i) for i, w in enumerate(_TENS, 3)}
_NUMBER_WORDS |= {"hundred": "100", "thousand": "1000", "dozen": "12"}
_SCALES = {"million", "billion", "trillion"}
_CURRENCIES = {"$": "dollar", "€": "euro", "£": "pound", "¥": "yen", "₹": "rupee"}
_CURRENCY_WORDS = {"dollar": "dollar", "dollars": "dollar", "euro": "euro", "euros": "euro", "yen": "yen"}
_NEGATIONS = {"not", "no", "never", "none", "neither", "nor", "nobody", "nothing", "without", "cannot"}
# Capitalised first words of a claim that are not names (beyond the stopwords).
_OPENERS = frozenset((
    "however", "meanwhile", "additionally", "moreover", "furthermore", "instead", "overall", "still",
    "yet", "although", "though", "despite", "while", "since", "unlike", "like", "both", "either",
    "according", "currently", "today", "recently", "later", "earlier", "first", "finally", "also",
    "thus", "therefore", "yes",
))  # fmt: skip
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b[^.!?]{0,60}\b(instructions?|prompts?|rules|guidelines|"
    r"directions|context|passages?)\b"
    r"|\b(system prompt|new instructions|you are now|as an ai|language model,)"
    r"|\byou (must|should|will|shall) (now )?(say|answer|respond|reply|state|write|tell|claim)\b"
    r"|^\W*(say|respond|reply|output|print|repeat|write)\b",
    re.I,
)


@dataclass(frozen=True)
class Draft:
    """One sentence of the LLM's reply, without its [n] markers, and the numbers it cites."""

    text: str
    cited: tuple[int, ...]


@dataclass(frozen=True)
class Source:
    """A sentence of a passage the LLM was given: the passage's number, the sentence, its vector."""

    passage: int
    sentence: Sentence
    vector: np.ndarray


@dataclass(frozen=True)
class Verdict:
    """A claim checked: its supporting span (sentences of one passage, in order; empty when it is
    unsupported), the best score found, and why it is or is not supported."""

    draft: Draft
    span: tuple[Source, ...]
    score: float
    reason: str

    @property
    def supported(self) -> bool:
        """Whether a span supports the claim."""
        return bool(self.span)


def split_claims(reply: str) -> list[Draft]:
    """The reply's sentences with the [n] markers that follow or sit inside each."""
    clean: list[str] = []
    marks: list[tuple[int, tuple[int, ...]]] = []
    at = length = 0
    for m in _CITE.finditer(reply):
        clean.append(reply[at : m.start()])
        length += m.start() - at
        marks.append((length, tuple(int(n) for n in re.split(r"\s*[,;]\s*", m.group(1)))))
        at = m.end()
    clean.append(reply[at:])
    text = "".join(clean)
    sentences = split_sentences(Document("reply", "", "", text, ""))
    cited: list[list[int]] = [[] for _ in sentences]
    for pos, numbers in marks:
        # A marker belongs to the sentence it sits in or right after.
        owner = max((i for i, s in enumerate(sentences) if s.start < pos), default=0)
        if sentences:
            cited[owner] += [n for n in numbers if n not in cited[owner]]
    return [
        Draft(s.text.strip(), tuple(c)) for s, c in zip(sentences, cited, strict=True) if _WORD.search(s.text)
    ]


def is_instruction(text: str) -> bool:
    """Whether a source sentence reads as an instruction to a model rather than a statement."""
    return _INSTRUCTION.search(text) is not None


@lru_cache(maxsize=20_000)
def facts(text: str, known: frozenset[str] = frozenset()) -> frozenset[str]:
    """The numbers, scales, currencies, names and negations a text states, as comparable tokens.

    A capitalised word is a name, except the first: a sentence's first word is a name when it
    is one of the `known` names (capitalised inside a sentence of the passages) or when the word
    after it is capitalised too ("Reed Hastings"); else it is just a sentence's first word.
    """
    text = _SCALED.sub(lambda m: f"{m.group(1)} " + _scale(m.group(2)), text)
    found = {"#" + _canonical(m.group(0)) for m in _NUMBER.finditer(text)}
    found |= {"$" + name for sign, name in _CURRENCIES.items() if sign in text}
    negations = 0
    tokens = _WORD.findall(text)
    for i, token in enumerate(tokens):
        word = fold(token)
        if word in _NUMBER_WORDS:
            found.add("#" + _NUMBER_WORDS[word])
        elif word in _SCALES:
            found.add("#" + word)
        elif word in _CURRENCY_WORDS:
            found.add("$" + _CURRENCY_WORDS[word])
        elif word in _NEGATIONS or word.endswith("n't"):
            # Counted: "has not ... without" denies more than a source with one "without" does.
            negations += 1
            found.add("not" * negations)
        elif token[0].isupper() and (i > 0 or _names_first(word, tokens, known)):
            found.add("@" + _name(word))
    return frozenset(found)


def _names_first(word: str, tokens: Sequence[str], known: frozenset[str]) -> bool:
    if word in STOPWORDS or word in _OPENERS:
        return False
    return _name(word) in known or (len(tokens) > 1 and tokens[1][0].isupper())


def names_inside(texts: Sequence[str]) -> frozenset[str]:
    """The names of texts: capitalised words that don't open a text."""
    return frozenset(_name(fold(w)) for t in texts for w in _WORD.findall(t)[1:] if w[0].isupper())


def missing(claim: str, span: Sequence[str], known: frozenset[str] = frozenset()) -> list[str]:
    """What the claim states that the span (its main sentence first) doesn't: numbers, currencies
    and names anywhere in it, negations in its main sentence (a neighbour's "not" denies something
    else)."""
    text = " ".join(span)
    capitalised = {"@" + _name(fold(w)) for w in _WORD.findall(text) if w[0].isupper()}
    have = {f for f in facts(text, known) if not f.startswith("not")} | capitalised
    have |= {f for f in facts(span[0], known) if f.startswith("not")}
    return sorted(f for f in facts(claim, known) if f not in have)


def check(
    draft: Draft,
    vector: np.ndarray,
    sources: Sequence[Source],
    threshold: float = SUPPORT_SCORE,
    words_weight: float = WORDS_WEIGHT,
) -> Verdict:
    """Find the span of the cited passages that supports the claim, or say why there is none."""
    if not draft.cited:
        return Verdict(draft, (), 0.0, "it cites no passage")
    usable = [s for s in sources if s.passage in draft.cited and not is_instruction(s.sentence.text)]
    if not usable:
        return Verdict(draft, (), 0.0, "it cites no passage that was given")
    scores = np.stack([s.vector for s in usable]) @ vector
    if words_weight:
        scores = scores + words_weight * np.array([word_share(draft.text, s.sentence.text) for s in usable])
    order = [int(i) for i in np.argsort(-scores, kind="stable")[:TRIES] if scores[i] >= threshold]
    best = float(scores.max())
    if not order:
        return Verdict(draft, (), best, f"no sentence of the cited passage says it (score {best:.2f})")
    known = names_inside([s.sentence.text for s in sources])
    lacking: list[str] = []
    for i in order:
        main = usable[i]
        for span in spans_around(usable, i):
            gaps = missing(
                draft.text, [main.sentence.text, *(s.sentence.text for s in span if s is not main)], known
            )
            if not gaps:
                return Verdict(draft, span, float(scores[i]), "supported")
            lacking = lacking or gaps
    said = ", ".join(f.lstrip("#$@") if not f.startswith("not") else "a negation" for f in lacking)
    return Verdict(draft, (), best, "the cited sentence doesn't give " + said)


def word_share(claim: str, sentence: str) -> float:
    """The share of the claim's content words (by their first five letters) that the sentence has."""
    # The answer stage's cached roots: the passages' sentences are already there from /ask's
    # extractive answer, and come back claim after claim.
    wanted = sentence_facts(claim).bag
    return len(wanted & sentence_facts(sentence).bag) / len(wanted) if wanted else 0.0


def spans_around(sources: Sequence[Source], i: int) -> list[tuple[Source, ...]]:
    """Sentence i alone, then with the sentence before or after it in its passage, then both."""
    s = sources[i]

    def at(offset: int) -> Source | None:
        return next(
            (
                o
                for o in sources
                if o.passage == s.passage
                and o.sentence.doc_id == s.sentence.doc_id
                and o.sentence.idx == s.sentence.idx + offset
            ),
            None,
        )

    before, after = at(-1), at(1)
    spans: list[tuple[Source, ...]] = [(s,)]
    spans += [(before, s)] if before else []
    spans += [(s, after)] if after else []
    spans += [(before, s, after)] if before and after else []
    return spans


def _canonical(number: str) -> str:
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", number):
        number = number.replace(",", "")  # thousands separators: 1,000 is 1000
    if "." in number and re.fullmatch(r"\d+\.\d+", number):
        number = number.rstrip("0").rstrip(".")
    return number


def _scale(abbreviation: str) -> str:
    return {"bn": "billion", "b": "billion", "mn": "million", "m": "million", "k": "thousand"}[
        abbreviation.lower()
    ]


def _name(word: str) -> str:
    return stem(word.removesuffix("'s"))
