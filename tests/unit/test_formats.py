"""What a person reads for a moment and a figure: Europe/Paris time, in her language."""

from datetime import UTC, datetime

from chevet.web import formats


def test_a_moment_is_read_in_paris_time_in_french_words() -> None:
    winter = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)  # UTC+1
    summer = datetime(2026, 7, 14, 22, 30, tzinfo=UTC)  # UTC+2: already the 15th in Paris
    assert formats.moment(winter, "fr") == "3 décembre 2026 à 14 h 05"
    assert formats.moment(summer, "fr", year=False) == "15 juillet à 0 h 30"
    assert formats.moment(winter, "en") == "3 December 2026 at 14:05"
    assert formats.short_moment(summer, "fr") == "15/07/2026 00:30"


def test_figures_use_the_language_separators() -> None:
    assert formats.number(12345.67, "fr", digits=1) == "12\u202f345,7"
    assert formats.number(12345, "en") == "12,345"
