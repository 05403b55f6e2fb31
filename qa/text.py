"""Word-level text helpers shared by indexing and answering: tokens, light stemming, stopwords."""

from __future__ import annotations

import re
import unicodedata

_STOPWORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each else ever few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just let me more most much my myself no nor not now of off on once only or other our ours
ourselves out over own per same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up upon us very was we were what
whatever when where whereas whether which while who whom whose why will with within without would
yet you your yours yourself yourselves say said says tell told according name named called kind
type one ones many thing things way get got make made use used using
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase, strip accents and unify quotes so matching ignores typography."""
    if text.isascii():  # the same result, without the per-character loop (hot in /ask's answer step)
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').lower()


def stem(word: str) -> str:
    """A deliberately light suffix stripper: plural and common verb endings, nothing clever."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl in (
        ("ies", "y"), ("sses", "ss"), ("ing", ""), ("ied", "y"), ("ed", ""), ("es", "e"), ("s", ""),
    ):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            word = word[: len(word) - len(suffix)] + repl
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # "stopp(ed)" → "stop"
    return word.rstrip("e") if len(word) > 4 else word


def words(text: str) -> list[str]:
    """Folded word tokens in order, stopwords kept."""
    return _WORD.findall(fold(text))


def terms(text: str) -> list[str]:
    """Stemmed content terms in order: stopwords and one-letter words removed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def root(term: str) -> str:
    """A term's first five letters: words that share them are read as one when matching a
    question to a sentence, because the light stemmer keeps derivations apart
    ("settled"/"settlement", "architecture"/"architectural")."""
    return term[:5]
