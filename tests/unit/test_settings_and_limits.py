from pathlib import Path

import pytest

from chevet.settings import SettingsError, load_settings
from chevet.web.i18n import gettext, negotiate
from chevet.web.ratelimit import RateLimiter


def test_precedence_file_then_environment_then_command_line(tmp_path: Path) -> None:
    (tmp_path / "chevet.toml").write_text('port = 9000\nhost = "0.0.0.0"\nmax_message_bytes = 1000\n')
    s = load_settings(tmp_path, environ={"CHEVET_PORT": "9100"}, messages__max_bytes=2000)
    assert (s.server.port, s.server.host, s.messages.max_bytes) == (9100, "0.0.0.0", 2000)
    assert s.database_in_use.startswith("sqlite:///") and s.key_file == tmp_path / "keys" / "master.key"


def test_invalid_settings_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="port"):
        load_settings(tmp_path, environ={"CHEVET_PORT": "ninety"})
    (tmp_path / "chevet.toml").write_text("bogus_option = 1\n")
    with pytest.raises(SettingsError, match="bogus_option"):
        load_settings(tmp_path, environ={})
    (tmp_path / "chevet.toml").write_text("port = [\n")
    with pytest.raises(SettingsError, match="TOML"):
        load_settings(tmp_path, environ={})


def test_language_negotiation_and_catalogs() -> None:
    assert negotiate(None) == "fr"
    assert negotiate("en-GB,en;q=0.9,fr;q=0.8") == "en"
    assert negotiate("de-DE,fr;q=0.5,en;q=0.4") == "fr"
    assert negotiate("en", preferred="fr") == "fr"
    assert gettext("message_too_large", "fr", max=10).startswith("Le message est trop long")
    assert gettext("message_too_large", "en", max=10) == "The message is too long (maximum 10 bytes)."


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(per_minute=3)
    assert [limiter.allow("ip", now=t) for t in (0, 1, 2)] == [0, 0, 0]
    assert limiter.allow("ip", now=3) > 0
    assert limiter.allow("other", now=3) == 0
    assert limiter.allow("ip", now=61) == 0
