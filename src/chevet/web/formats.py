"""Dates, times and numbers as a person reads them: Europe/Paris time, French (or English)
words and separators, through Babel. The one place pages format a moment or a figure."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time
from babel.numbers import format_decimal

from chevet.core.notification import LOCAL_TIME


def local(at: datetime) -> datetime:
    return at.astimezone(LOCAL_TIME)


def day(value: date | datetime, lang: str, *, year: bool = True) -> str:
    """« 3 décembre 2026 » / "3 December 2026"; a datetime is taken in Europe/Paris first."""
    d = local(value).date() if isinstance(value, datetime) else value
    return format_date(d, format="d MMMM y" if year else "d MMMM", locale=lang)


def clock(at: datetime, lang: str) -> str:
    """« 14 h 05 » in French, "14:05" in English, in Europe/Paris."""
    return format_time(local(at), format="H 'h' mm" if lang == "fr" else "HH:mm", locale=lang)


def moment(at: datetime, lang: str, *, year: bool = True) -> str:
    """« 3 décembre 2026 à 14 h 05 » / "3 December 2026 at 14:05"."""
    joiner = " à " if lang == "fr" else " at "
    return f"{day(at, lang, year=year)}{joiner}{clock(at, lang)}"


def short_moment(at: datetime, lang: str) -> str:
    """« 03/12/2026 14:05 » for dense tables, in Europe/Paris."""
    t = local(at)
    return f"{format_date(t.date(), format='short', locale=lang if lang != 'en' else 'en_GB')} {t:%H:%M}"


def number(value: int | float, lang: str, *, digits: int = 0) -> str:
    """« 12 345,6 » in French (narrow no-break space), "12,345.6" in English."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=lang)


def month(value: date, lang: str) -> str:
    """« janv. 26 » / "Jan 26": a month on a chart's axis or in a table row."""
    return format_date(value, format="MMM yy", locale=lang)



# A session's device as its owner recognises it (« Chrome sur Android ») rather than the raw
# User-Agent header, a wall of version numbers. Order matters: browsers built on another one
# name it too (Edge and Samsung Internet say "Chrome", Chrome says "Safari"), so the more
# specific token comes first. Only what a person needs to tell her devices apart.
_BROWSERS = (("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("SamsungBrowser/", "Samsung Internet"),
             ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Macintosh", "Mac"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser_and_system(user_agent: str) -> tuple[str | None, str | None]:
    """("Chrome", "Android"); (None, …) when no browser is recognised (another application)."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    return browser, system
