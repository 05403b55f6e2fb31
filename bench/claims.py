"""Claims for measuring verification (bench/verification.py), made from source sentences without an LLM.

Each source sentence gives a supported claim, a paraphrase of it (and its first clause alone, when
that is a sentence of its own: "part"), and up to four unsupported ones built on the paraphrase, so
they differ from a supported claim only in what they get wrong:
- number: one of its numbers changed (to a value its passage doesn't hold);
- name: one of its proper names swapped for another name of the same article;
- negation: "not" put after its first auxiliary verb;
- wrong citation: the paraphrase of a sentence just past the end of the passage it cites.

The paraphrases are deterministic edits: a leading prepositional phrase moved to the end, a
parenthesis or trailing relative clause dropped, fixed adverbs dropped, words swapped for their
synonym from a fixed list of pairs. They keep most of the sentence's words (bench/verification.py
reports the share changed), so they are easier to verify than an LLM's rewording: the figures bound
how often verification keeps a faithful claim from above.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from qa.records import Sentence
from qa.text import fold, stem, words

_PAIRS = """said stated|began started|begin start|begins starts|large big|larger bigger|
largest biggest|many numerous|help assist|helped assisted|helps assists|use employ|used employed|
uses employs|using employing|buy purchase|bought purchased|showed demonstrated|important significant|
area region|areas regions|company firm|companies firms|people individuals|built constructed|
ended finished|increase rise|increased rose|often frequently|quickly rapidly|main primary|
mainly primarily|known recognized|called named|almost nearly|approximately about|after following|
difficult hard|allow permit|allowed permitted|allows permits|need require|needed required|
needs requires|tried attempted|movie film|movies films|enough sufficient|several various|
received obtained|leading top|purpose aim|primarily chiefly|reached hit|however but|shows reveals"""
SYNONYMS = {
    a: b
    for pair in _PAIRS.replace("\n", "").split("|")
    for x, y in [pair.split()]
    for a, b in ((x, y), (y, x))
}
ADVERBS = frozenset((
    "also", "very", "actively", "specifically", "initially", "recently", "currently", "still", "just",
    "really", "particularly", "largely", "mostly", "significantly", "eventually", "subsequently",
    "highly", "widely", "generally", "usually", "originally", "officially", "formally", "directly",
    "strongly", "simply", "notably", "reportedly", "increasingly", "effectively",
))  # fmt: skip
_LEADS = frozenset((
    "in", "on", "at", "by", "during", "after", "before", "since", "following", "when", "while",
    "although", "as", "despite", "under", "for", "with", "from", "throughout", "until", "within",
    "over", "between", "among", "upon",
))  # fmt: skip
_AUXILIARIES = re.compile(r"\b(is|was|are|were|will|can|could|would|should|has|have|had|does|did)\b")
_WORD = re.compile(r"[A-Za-z’'-]+")
# A proper name: a capitalised word that doesn't open the sentence.
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]{2,}\b")
SUPPORTED = ("paraphrase", "part")
KINDS = ("number", "name", "negation", "wrong citation")


@dataclass(frozen=True)
class Case:
    """A claim and the passage (consecutive sentences of one document) it cites."""

    kind: str  # one of SUPPORTED or of KINDS
    claim: str
    passage: tuple[Sentence, ...]
    changed: float = 0.0  # share of the source sentence's words the paraphrase changed


def paraphrase(text: str) -> str:
    """The sentence reworded by fixed rules: reorder, drop a clause, drop adverbs, swap synonyms."""
    text = re.sub(r"\s*\([^()]{1,120}\)", "", text)
    text = re.sub(r",\s+(which|including|who)\b[^,;.]*(?=[.;](\s|$))", "", text)
    text = _move_lead(text)
    words = text.split(" ")
    if len(words) > 1 and words[0].lower().rstrip(",") in ADVERBS:  # "Subsequently, the team ..."
        words = [words[1][:1].upper() + words[1][1:], *words[2:]]
    kept = [w for w in words if w.lower().strip(",") not in ADVERBS or w.endswith(",")]
    # Capitalised words inside the sentence are names ("Large Language Model"): never swapped.
    return " ".join(w if i and w[:1].isupper() else _swap(w) for i, w in enumerate(kept))


def part(text: str) -> str | None:
    """The sentence's first clause alone, as an answer states part of a sentence: 'Revenue rose
    17%, reaching $11.5 billion.' → 'Revenue rose 17%.' (None when that leaves under 6 words)."""
    head, comma, tail = text.partition(", ")
    if not comma or len(head.split()) < 6 or len(tail.split()) < 3 or head.count("“") != head.count("”"):
        return None
    return head.rstrip(" ;:") + "."


def _move_lead(text: str) -> str:
    """'In 1990, the city grew.' → 'The city grew in 1990.'"""
    comma = text.find(", ")
    first = text.split(" ", 1)[0].lower()
    if comma < 0 or comma > 0.6 * len(text) or first not in _LEADS or not text.endswith("."):
        return text
    lead, rest = text[:comma], text[comma + 2 : -1]
    if not rest or len(lead.split()) < 2 or re.search(r"[;:\"“”]", lead):
        return text
    rest = rest[0].upper() + rest[1:]
    return f"{rest} {lead[0].lower()}{lead[1:]}."


def _swap(word: str) -> str:
    m = re.fullmatch(r"([A-Za-z]+)(\W*)", word)
    if not m or m.group(1).lower() not in SYNONYMS:
        return word
    core = SYNONYMS[m.group(1).lower()]
    return (core.capitalize() if m.group(1)[0].isupper() else core) + m.group(2)


def changed_share(source: str, claim: str) -> float:
    """The share of the source's words that the claim doesn't have (as a multiset)."""
    a = Counter(w.lower() for w in _WORD.findall(source))
    b = Counter(w.lower() for w in _WORD.findall(claim))
    return sum((a - b).values()) / max(1, sum(a.values()))


def change_number(text: str, passage: str) -> str | None:
    """The text with its first number changed to a value the passage doesn't hold."""
    m = re.search(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])", text)
    if not m:
        return None
    raw = m.group(0)
    digits = raw.replace(",", "")
    for step in (3, 7, 11, 2):
        if "." in digits:  # 11.5 → 11.8: the last decimal changed
            new = f"{digits[:-1]}{(int(digits[-1]) + step) % 10}"
        else:  # 17 → 20, 2008 → 2608: by a step that scales with the number
            new = str(int(digits) + step * max(1, int(digits) // 10))
        if new not in passage.replace(",", ""):
            return text[: m.start()] + new + text[m.end() :]
    return None


def change_name(text: str, others: Sequence[str], passage: str) -> str | None:
    """The text with one proper name (a capitalised word not opening it) swapped for another of
    the article's names that the passage doesn't mention."""
    spots = list(_NAME.finditer(text))
    # Not another form of a word the passage has ("Armenians" where it says "Armenian").
    said = {stem(w) for w in words(passage)}
    fresh = [o for o in others if stem(fold(o)) not in said]
    for m in spots:
        if m.group(0).lower() in SYNONYMS or not fresh:
            continue
        return text[: m.start()] + fresh[0] + text[m.end() :]
    return None


def negate(text: str) -> str | None:
    """The text denying what it said: 'not' after its first auxiliary verb (if it has none)."""
    if re.search(r"\b(not|never|no)\b|n't\b", text):
        return None
    m = _AUXILIARIES.search(text)
    return None if not m else text[: m.end()] + " not" + text[m.end() :]


def names(sentences: Sequence[Sentence]) -> list[str]:
    """An article's proper names (capitalised words not opening a sentence), most frequent first."""
    counts: Counter[str] = Counter()
    for s in sentences:
        counts.update(_NAME.findall(s.text))
    return [n for n, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def cases(sentences: Sequence[Sentence], width: int = 2) -> list[Case]:
    """The claims of one document: for each sentence, its paraphrase against the passage of the
    sentences `width` either side of it, and the unsupported claims against that same passage."""
    out: list[Case] = []
    others = names(sentences)
    for i, s in enumerate(sentences):
        passage = tuple(sentences[max(0, i - width) : i + width + 1])
        text = " ".join(p.text for p in passage)
        claim = paraphrase(s.text)
        if claim == s.text or len(claim.split()) < 5:
            continue
        out.append(Case("paraphrase", claim, passage, changed_share(s.text, claim)))
        shorter = part(claim)
        if shorter:
            out.append(Case("part", shorter, passage, changed_share(s.text, shorter)))
        made = {
            "number": change_number(claim, text),
            "name": change_name(claim, others, text),
            "negation": negate(claim),
        }
        beyond = i + width + 1
        if beyond < len(sentences) and len(sentences[beyond].text.split()) >= 5:
            made["wrong citation"] = paraphrase(sentences[beyond].text)
        out += [Case(kind, c, passage) for kind, c in made.items() if c]
    return out
