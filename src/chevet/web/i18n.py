"""Translations from gettext catalogs (``locale/<lang>/LC_MESSAGES/messages.po``), read with
Babel at start-up: no compilation step. French is the default language."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """All ``*.po`` files of a language (one per feature: messages.po, ui.po, …), merged."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            cat = read_po(fh, locale=lang)
        merged.update({str(m.id): str(m.string) for m in cat if m.id and m.string and isinstance(m.id, str)})
    return merged


def gettext(message_id: str, lang: str = DEFAULT, **params: Any) -> str:
    text = catalog(lang).get(message_id) or catalog(DEFAULT).get(message_id) or message_id
    if isinstance(params.get("minutes"), int) and "wait" not in params:
        # A wait in minutes, singular or plural: "{wait}" reads "1 minute" or "15 minutes".
        unit = "ui.wait.minute" if params["minutes"] == 1 else "ui.wait.minutes"
        params["wait"] = gettext(unit, lang, n=params["minutes"])
    if isinstance(params.get("families"), (list, tuple)) and "kinds" not in params:
        # Accepted file families in words: "une photo, un PDF ou un texte".
        params["kinds"] = _in_words([gettext(f"attachment.family.{f}", lang) for f in params["families"]], lang)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The person's own setting wins, then the browser's Accept-Language, then French."""
    if preferred in LANGUAGES:
        return preferred
    best, best_q = DEFAULT, -1.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, q = part.strip().partition(";q=")
        lang = tag.strip().lower()[:2]
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if lang in LANGUAGES and weight > best_q:
            best, best_q = lang, weight
    return best


def _in_words(words: list[str], lang: str) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {gettext('words.or', lang)} {words[-1]}"
