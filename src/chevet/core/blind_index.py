"""Search without plaintext: a blind index of normalised words.

Each word of a message is normalised (lower case, French accents folded, very light
stemming), then replaced by the first four bytes of HMAC-SHA256(conversation search key, word).
A query is normalised and hashed the same way. Four bytes keep the index small; the rare false
positives are removed by opening the candidate messages and checking their words, which the
server can do since it holds the keys.

What it leaks to someone who reads the database: that two messages *of the same conversation*
share a word (equal terms), and how many distinct indexed words a message has. Terms of two
conversations cannot be compared, and a shredded conversation's terms mean nothing any more.
"""

from __future__ import annotations

import hmac
import re
import struct
import unicodedata
from hashlib import sha256

TERM_BYTES = 4
MAX_TERMS = 64

_WORD = re.compile(r"[0-9a-z]+")

# Common French and English function words that only bloat the index.
STOP_WORDS = frozenset(
    """
    a au aux avec ce ces dans de des du elle en et eux il je la le les leur lui ma mais me meme
    mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi
    ton tu un une vos votre vous c d j l m n s t y est ete sont the of and to in is it for on at
    """.split()
)

def fold(text: str) -> str:
    """Lower case and strip accents: 'Élévation' -> 'elevation'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
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


def words(text: str) -> list[str]:
    """The distinct normalised words of a text, in first-seen order."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(fold(text)):
        if raw in STOP_WORDS or len(raw) < 2:
            continue
        seen.setdefault(stem(raw), None)
    return list(seen)


def term(search_key: bytes, word: str) -> int:
    digest = hmac.new(search_key, word.encode(), sha256).digest()
    value: int = struct.unpack(">i", digest[:TERM_BYTES])[0]
    return value


def terms(search_key: bytes, text: str) -> list[int]:
    """The sorted, distinct terms to store for a text (at most MAX_TERMS)."""
    return sorted({term(search_key, w) for w in words(text)[:MAX_TERMS]})


def pack(values: list[int]) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def unpack(blob: bytes) -> list[int]:
    return list(struct.unpack(f">{len(blob) // TERM_BYTES}i", blob[: len(blob) - len(blob) % TERM_BYTES]))


def matches(query: str, text: str) -> bool:
    """Whether a decrypted text really contains every word of the query."""
    wanted = set(words(query))
    return bool(wanted) and wanted <= set(words(text))
