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



# User-Agent strings as these browsers send them (their vendors' documented forms).
AGENTS = {
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
    "Safari/537.36": ("Chrome", "Android"),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1": ("Safari", "iPhone"),
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 "
    "Mobile/15E148 Safari/604.1": ("Chrome", "iPad"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0": ("Firefox", "Windows"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.2903.86": ("Edge", "Windows"),
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36": ("Samsung Internet", "Android"),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15": ("Safari", "Mac"),
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36": (
        "Chrome", "Linux"),
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0": ("Firefox", "Android"),
    "python-httpx/0.28.1": (None, None),
}


def test_a_device_is_named_by_its_browser_and_system() -> None:
    for agent, named in AGENTS.items():
        assert formats.browser_and_system(agent) == named, agent
