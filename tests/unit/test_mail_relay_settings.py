"""The [mail_relay] section: off until a host is set, a sender with it, one source for the
password (environment or file, never chevet.toml), and TLS always."""

from __future__ import annotations

from pathlib import Path

import pytest

from chevet.bootstrap import mail_relay_from
from chevet.settings import SettingsError, load_settings


def test_the_relay_is_off_by_default_and_needs_a_sender(tmp_path: Path) -> None:
    assert mail_relay_from(load_settings(tmp_path, environ={})) is None
    with pytest.raises(SettingsError, match="sender"):
        load_settings(tmp_path, environ={"CHEVET_MAIL_RELAY__HOST": "smtp.example"})
    with pytest.raises(SettingsError, match="not both"):
        load_settings(tmp_path, environ={"CHEVET_MAIL_RELAY__PASSWORD_ENV": "X",
                                         "CHEVET_MAIL_RELAY__PASSWORD_FILE": "/x"})
    with pytest.raises(SettingsError):
        load_settings(tmp_path, environ={"CHEVET_MAIL_RELAY__SECURITY": "none"})  # never clear text


def test_password_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "chevet.toml").write_text('[mail_relay]\nhost = "smtp.example"\nport = 465\nsecurity = "tls"\n'
                                          'username = "chevet"\nsender = "noreply@ehpad.example"\n'
                                          'password_env = "RELAY_SECRET"\n')
    settings = load_settings(tmp_path, environ={})
    with pytest.raises(SettingsError, match="RELAY_SECRET"):
        mail_relay_from(settings)
    monkeypatch.setenv("RELAY_SECRET", "s3cret")
    relay = mail_relay_from(settings)
    assert relay is not None and relay.sender == "noreply@ehpad.example"
    endpoint = relay.submitter.endpoint  # type: ignore[attr-defined]
    assert (endpoint.host, endpoint.port, endpoint.implicit_tls, endpoint.password) == ("smtp.example", 465, True,
                                                                                        "s3cret")
    (tmp_path / "secret").write_text("from-file\n")
    relay = mail_relay_from(settings.replace(mail_relay__password_env=None,
                                             mail_relay__password_file=str(tmp_path / "secret")))
    assert relay is not None and relay.submitter.endpoint.password == "from-file"  # type: ignore[attr-defined]
    with pytest.raises(SettingsError, match="password_file"):
        mail_relay_from(settings.replace(mail_relay__password_env=None,
                                         mail_relay__password_file=str(tmp_path / "missing")))
