"""Search without plaintext: a blind index of normalised words and of their beginnings.

Each word of a message is normalised (lower case, French accents folded, elided articles such
as "l'" and "d'" removed, very light stemming) and stands for terms, each the first four bytes
of HMAC-SHA256(conversation search key, text):

- *prefix terms*: a word of letters gives its beginnings of 3 and 5 letters
  (``PREFIX_LENGTHS``; only those shorter than the word), under a domain of their own (a
  leading "^", which no normalised word contains), so that "tal" the word and "tal" the
  beginning of "talon" never share a term;
- a *word term* (the stemmed word), except for a word of more than 5 letters whose stem keeps
  5 letters or more ("pansement"): its 5-letter beginning finds it.

A query word of three letters or more matches a word that begins with it, or the same word
(stemmed); shorter query words match only whole words. It is looked up by its longest indexed
beginning (4 letters by their first 3, 5 and more by their first 5) or by its word term. Four
bytes keep the index small; the rare false positives, and the candidates that share only the
beginning looked up, are removed by opening the candidate messages and checking their words,
which the server can do since it holds the keys.

What it leaks to someone who reads the database: that two messages *of the same conversation*
share a word or a word beginning (equal terms), and how many distinct terms a message has (a
length signal). Terms of two conversations cannot be compared, and a shredded conversation's
terms mean nothing any more. docs/encryption.md gives the figures.
"""

from __future__ import annotations

import hmac
import re
import struct
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256

TERM_BYTES = 4
MAX_TERMS = 64
# Prefix terms: beginnings of these lengths, at most MAX_PREFIX_TERMS a message. Every length
# from 3 to 5 would store a third more terms (docs/encryption.md gives the figures).
PREFIX_LENGTHS = (3, 5)
PREFIX_MIN = PREFIX_LENGTHS[0]
MAX_PREFIX_TERMS = 96
_PREFIX_DOMAIN = "^"

_TOKEN = re.compile(r"[0-9a-z]+(?:['\u2019](?=[0-9a-z]))?")

# Common French and English function words that only bloat the index.
STOP_WORDS = frozenset(
    """
    a au aux avec ce ces dans de des du elle en et eux il je la le les leur lui ma mais me meme
    mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi
    ton tu un une vos votre vous c d j l m n s t y est ete sont the of and to in is it for on at
    """.split()
)

# French elided words, written before a vowel with an apostrophe: "l'hématome", "jusqu'au".
ELIDED = frozenset("c d j l m n s t qu jusqu lorsqu puisqu quoiqu".split())


def fold(text: str) -> str:
    """Lower case and strip accents: 'Élévation' -> 'elevation'. Decomposed before case folding
    too, since some characters only become letters by decomposition, in capitals ('㉐' -> 'PTE')."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """Very light French stemming, so that singular and plural, masculine and feminine meet:
    drop a plural s/x, then a final e ("hématomes", "hématome" -> "hematom"; "infirmière",
    "infirmier" -> "infirmier"). Never below 3 letters; numbers are left alone."""
    if word.isdigit():
        return word
    if word[-1] in "sx" and len(word) > 3:
        word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The folded words of a text, elided articles removed ("d'abord" -> "abord"), stop words
    and single characters left out, duplicates kept, in order."""
    found = []
    for raw in _TOKEN.findall(fold(text)):
        if raw[-1] in "'\u2019":
            raw = raw[:-1]
            if raw in ELIDED:
                continue
        if raw in STOP_WORDS or len(raw) < 2:
            continue
        found.append(raw)
    return found


def words(text: str) -> list[str]:
    """The distinct normalised (stemmed) words of a text, in first-seen order."""
    return list(dict.fromkeys(stem(t) for t in tokens(text)))


def prefixes(token: str) -> list[str]:
    """The indexed beginnings of a folded word: those of PREFIX_LENGTHS letters shorter than the
    word itself. Words with a digit ("14h", "2026") have none."""
    if not token.isalpha():
        return []
    return [token[:n] for n in PREFIX_LENGTHS if n < len(token)]


def looked_up(wanted: str) -> str | None:
    """The indexed beginning a query word is looked up by: its longest one ("talo" -> "tal",
    "pansem" -> "panse"), or None for a word with a digit or shorter than PREFIX_MIN."""
    if not wanted.isalpha() or len(wanted) < PREFIX_MIN:
        return None
    return wanted[:max(n for n in PREFIX_LENGTHS if n <= len(wanted))]


def has_word_term(token: str, stemmed: str | None = None) -> bool:
    """Whether a folded word is stored with its word term: not when its 5-letter beginning
    stands for it, i.e. a word of more than 5 letters, all letters, whose stem keeps 5 letters
    or more (every query word that answers it then begins with that beginning; see the tests).
    ``stemmed``: the word's stem, when the caller has it already."""
    longest = PREFIX_LENGTHS[-1]
    if not token.isalpha() or len(token) <= longest:
        return True
    return len(stemmed if stemmed is not None else stem(token)) < longest


def hasher(search_key: bytes) -> Callable[[str], int]:
    """The term function of one key: the keyed HMAC state is set up once and copied for each
    term (a quarter cheaper than a new HMAC each time; a message has some 26 terms)."""
    keyed = hmac.new(search_key, digestmod=sha256)

    def one(text: str) -> int:
        h = keyed.copy()
        h.update(text.encode())
        value: int = struct.unpack(">i", h.digest()[:TERM_BYTES])[0]
        return value

    return one


def term(search_key: bytes, word: str) -> int:
    return hasher(search_key)(word)


def prefix_term(search_key: bytes, beginning: str) -> int:
    """The term of a word beginning: a domain of its own, never equal to a word's term."""
    return term(search_key, _PREFIX_DOMAIN + beginning)


def terms(search_key: bytes, text: str) -> list[int]:
    """The sorted, distinct terms to store for a text: at most MAX_TERMS word terms and
    MAX_PREFIX_TERMS prefix terms."""
    one = hasher(search_key)
    stems: dict[str, None] = {}
    beginnings: dict[str, None] = {}
    for t in dict.fromkeys(tokens(text)):
        stemmed = stem(t)
        if has_word_term(t, stemmed):
            stems[stemmed] = None
        beginnings.update(dict.fromkeys(prefixes(t)))
    values = {one(w) for w in list(stems)[:MAX_TERMS]}
    values.update(one(_PREFIX_DOMAIN + p) for p in list(beginnings)[:MAX_PREFIX_TERMS])
    return sorted(values)


@dataclass(frozen=True)
class Query:
    """A parsed search: each word with the terms any of which a message must hold."""

    words: tuple[str, ...]

    @property
    def searchable(self) -> bool:
        """At least one word of PREFIX_MIN characters or more, or with a digit ("9h", "j2"):
        words of one or two letters alone would match too much and are refused."""
        return any(len(w) >= PREFIX_MIN or not w.isalpha() for w in self.words)

    def alternatives(self, search_key: bytes) -> list[list[int]]:
        """For each query word, the terms of which a matching message holds at least one."""
        one = hasher(search_key)
        found = []
        for w in self.words:
            options = {one(stem(w))}
            beginning = looked_up(w)
            if beginning is not None:
                options.add(one(_PREFIX_DOMAIN + beginning))
            found.append(sorted(options))
        return found


def parse(query: str) -> Query:
    return Query(tuple(dict.fromkeys(tokens(query))))


def refusal(query: str) -> str | None:
    """Why a query cannot be searched (an error code), or None: nothing to look for, or only
    words of one or two letters ("ta", "l'")."""
    q = parse(query)
    if q.searchable:
        return None
    raw = re.findall(r"[0-9a-z]+", fold(query))
    return "search_query_short" if q.words or (raw and all(len(w) < PREFIX_MIN for w in raw)) \
        else "search_query_empty"


def word_matches(wanted: str, token: str) -> bool:
    """Whether a folded word of a message answers a folded query word."""
    if stem(wanted) == stem(token):
        return True
    return len(wanted) >= PREFIX_MIN and wanted.isalpha() and token.startswith(wanted)


def matches(query: str | Query, text: str) -> bool:
    """Whether a decrypted text really answers every word of the query."""
    q = parse(query) if isinstance(query, str) else query
    found = set(tokens(text))
    return bool(q.words) and all(any(word_matches(w, t) for t in found) for w in q.words)


def highlights(query: str | Query, text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, matched) pieces: the matching beginning of each word that
    answers the query is marked ("talon" for "tal": "tal" marked, "on" not)."""
    q = parse(query) if isinstance(query, str) else query
    text = unicodedata.normalize("NFC", text)  # "é" as one character, as \w+ needs it
    pieces: list[tuple[str, bool]] = []
    at = 0
    for m in re.finditer(r"\w+", text):
        folded = fold(m.group())
        length = _matched_length(q.words, folded) if folded else 0
        if not length:
            continue
        # Folding can change a word's length (ligatures): mark the whole word then.
        cut = m.start() + length if len(folded) == len(m.group()) else m.end()
        pieces.append((text[at:m.start()], False))
        pieces.append((text[m.start():cut], True))
        at = cut
    pieces.append((text[at:], False))
    return [p for p in pieces if p[0]]


def snippet(query: str | Query, text: str, width: int = 200) -> list[tuple[str, bool]]:
    """At most ``width`` characters of a text around its first match, cut at spaces, with "…"
    where it was cut, as highlight pieces."""
    text = unicodedata.normalize("NFC", text)
    if len(text) > width:
        pieces = highlights(query, text)
        first = next((sum(len(p) for p, _ in pieces[:i]) for i, (_, hit) in enumerate(pieces) if hit), 0)
        start = max(0, min(first - width // 5, len(text) - width))
        if start:
            space = text.find(" ", start, first)
            start = space + 1 if space >= 0 else start
        end = start + width
        if end < len(text):
            space = text.rfind(" ", max(start, first), end)
            end = space if space > start else end
        text = ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")
    return highlights(query, text)


def _matched_length(wanted: Sequence[str], folded: str) -> int:
    best = 0
    for w in wanted:
        if len(w) >= PREFIX_MIN and w.isalpha() and folded.startswith(w):
            best = max(best, len(w))
        elif stem(w) == stem(folded):
            best = len(folded)
    return best


def pack(values: list[int]) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def unpack(blob: bytes) -> list[int]:
    return list(struct.unpack(f">{len(blob) // TERM_BYTES}i", blob[: len(blob) - len(blob) % TERM_BYTES]))
