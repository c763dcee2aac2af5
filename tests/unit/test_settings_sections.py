"""Settings in sections: the nested form in chevet.toml and CHEVET_* variables, and the flat
names of installed bases, which keep working."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chevet.settings import Settings, SettingsError, load_settings
from chevet.settings.blobs import BlobsSettings
from chevet.settings.directory_sync import DirectorySyncSettings
from chevet.settings.flat_names import FLAT_NAMES
from chevet.settings.sections import MetricsSettings, OrganisationKeysSettings

# Every setting name of the versions before sections (chevet.toml keys, CHEVET_<NAME>).
INSTALLED_NAMES = """
data_dir database_url master_key_file redis_url host port tls_cert_file tls_key_file tls_ciphers public_url
http_max_request_line_bytes http_max_header_bytes http_max_headers http_header_timeout_seconds
http_body_timeout_seconds http_body_min_bytes_per_second http_max_connections_per_address max_message_bytes
max_request_bytes session_hours session_cache_seconds stream_deflate lockout_threshold lockout_minutes
login_attempts_per_minute_per_ip invitation_days sqlite_synchronous password_time_cost password_memory_kib
log_level blob_dir max_upload_bytes attachment_types max_image_pixels image_max_side image_target_bytes
image_format quota_org_bytes quota_person_bytes clamd_socket pending_attachment_hours footprint_network_g_per_gb
footprint_storage_g_per_gb_year footprint_storage_source default_language audit_key_file audit_retention_days
checkpoint_minutes retention_interval_hours key_backup_file controller dpo_contact hosting_provider
hosting_location backup_location push_services push_contact session_idle_minutes reauth_minutes psc_client_id
psc_client_secret psc_issuer psc_authorize_url psc_token_url psc_userinfo_url psc_jwks_url psc_logout_url
psc_client_cert psc_client_key psc_ca_file psc_allow_hs256
""".split()
UNMOVED = {"data_dir", "log_level", "default_language"}
# Settings born in their section, after the flat names: they have no flat name.
SECTIONED_ONLY = {"sign_in.account_lockout_threshold"} | {
    f"mail_relay.{n}" for n in ("host", "port", "security", "username", "password_env", "password_file", "sender",
                                "ca_file", "timeout_seconds", "max_attempts", "retry_seconds")}
# The directory synchronisation came after sections: no flat names.
SECTIONED_ONLY |= {f"directory_sync.{n}" for n in DirectorySyncSettings.model_fields}
# So did the audit witness and time-stamping.
SECTIONED_ONLY |= {f"audit.{n}" for n in ("witness_file", "witness_syslog", "witness_url", "witness_ca_file",
                                          "tsa_url", "tsa_ca_file")}
# And each organisation's key (its cache and its tokens).
SECTIONED_ONLY |= {f"organisation_keys.{n}" for n in OrganisationKeysSettings.model_fields}
# And the metrics endpoint.
SECTIONED_ONLY |= {f"metrics.{n}" for n in MetricsSettings.model_fields}
# And where sealed files are kept (a folder or an S3 object store).
SECTIONED_ONLY |= {f"blobs.{n}" for n in BlobsSettings.model_fields}
# Flat keywords are built with dict(...) so that the call-site rewrite leaves them flat.


def _leaf_paths(model: type[Any], prefix: str = "") -> set[str]:
    out = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            out |= _leaf_paths(annotation, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_every_installed_name_still_names_one_setting() -> None:
    assert set(FLAT_NAMES) | UNMOVED == set(INSTALLED_NAMES)
    assert sorted(FLAT_NAMES.values()) == sorted(set(FLAT_NAMES.values()))  # one setting for each
    assert set(FLAT_NAMES.values()) | UNMOVED | SECTIONED_ONLY == _leaf_paths(Settings)


def test_sections_in_the_file_and_in_variables(tmp_path: Path) -> None:
    (tmp_path / "chevet.toml").write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n'
                                          '[http]\nmax_headers = 50\nmax_header_bytes = 20000\n'
                                          '[database]\nsqlite_synchronous = "normal"\n')
    s = load_settings(tmp_path, environ={"CHEVET_HTTP__MAX_HEADERS": "60", "CHEVET_SERVER__STREAM_DEFLATE": "false",
                                         "CHEVET_PUSH__SERVICES": "https://push.example, https://fcm.googleapis.com"},
                      server__port=9200)
    assert (s.server.host, s.server.port, s.server.stream_deflate) == ("0.0.0.0", 9200, False)
    assert (s.http.max_headers, s.http.max_header_bytes, s.http.max_request_line_bytes) == (60, 20000, 8192)
    assert s.database.sqlite_synchronous == "NORMAL"
    assert s.push.services == ("https://push.example", "https://fcm.googleapis.com")


def test_flat_names_in_the_file_and_in_variables(tmp_path: Path) -> None:
    (tmp_path / "chevet.toml").write_text('database_url = "postgresql://chevet@db/chevet"\n'
                                          'tls_cert_file = "/etc/chevet/cert.pem"\n'
                                          'tls_key_file = "/etc/chevet/key.pem"\n'
                                          'attachment_types = "PDF, image"\ncontroller = "EHPAD"\n')
    s = load_settings(tmp_path, environ={"CHEVET_PUSH_SERVICES": "https://push.example",
                                         "CHEVET_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP": "7", "CHEVET_IMAGE_FORMAT": "WEBP",
                                         "CHEVET_SESSION_HOURS": "", "CHEVET_LOG_LEVEL": "debug"},
                      passwords__time_cost=1, **dict(password_memory_kib=1024))
    assert s.database.url == s.database_in_use == "postgresql://chevet@db/chevet"
    assert s.tls.enabled and s.origin == "https://localhost:8000"
    assert (s.attachments.types, s.attachments.image_format) == ("pdf,image", "webp")
    assert (s.governance.controller, s.push.services, s.sign_in.attempts_per_minute_per_ip) == (
        "EHPAD", ("https://push.example",), 7)
    assert (s.sessions.hours, s.log_level, s.passwords.time_cost, s.passwords.memory_kib) == (12, "DEBUG", 1, 1024)


def test_a_setting_given_twice_in_one_place_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"server\.port is given twice .*CHEVET_PORT.*CHEVET_SERVER__PORT"):
        load_settings(tmp_path, environ={"CHEVET_PORT": "1", "CHEVET_SERVER__PORT": "2"})
    (tmp_path / "chevet.toml").write_text("port = 1\n[server]\nport = 2\n")
    with pytest.raises(SettingsError, match=r"chevet\.toml: server\.port is given twice"):
        load_settings(tmp_path, environ={})


def test_each_place_overrides_the_one_before_setting_by_setting(tmp_path: Path) -> None:
    (tmp_path / "chevet.toml").write_text("port = 9000\n[server]\nhost = \"::\"\n")
    s = load_settings(tmp_path, environ={"CHEVET_SERVER__PORT": "9100"})
    assert (s.server.host, s.server.port) == ("::", 9100)
    s = load_settings(tmp_path, environ={"CHEVET_SERVER__PORT": "9100"}, **dict(port=9200, host=None))
    assert (s.server.host, s.server.port) == ("::", 9200)


def test_errors_name_the_setting_as_it_was_given(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as flat:
        load_settings(tmp_path, environ={"CHEVET_HTTP_MAX_HEADERS": "lots"})
    assert "http.max_headers (http_max_headers): Input should be a valid integer" in str(flat.value)
    with pytest.raises(SettingsError) as nested:
        load_settings(tmp_path, environ={"CHEVET_HTTP__MAX_HEADERS": "lots"})
    assert "http.max_headers: Input should be a valid integer" in str(nested.value)
    (tmp_path / "chevet.toml").write_text('[database]\nsqlite_synchronous = "OFF"\n[server]\nbogus = 1\n')
    with pytest.raises(SettingsError) as closed_set:
        load_settings(tmp_path, environ={})
    assert "database.sqlite_synchronous: Input should be 'FULL', 'NORMAL' or 'EXTRA'" in str(closed_set.value)
    assert "server.bogus: Extra inputs are not permitted" in str(closed_set.value)


def test_replace_validates_and_reads_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(tmp_path, environ={})
    monkeypatch.setenv("CHEVET_SERVER__PORT", "9999")
    staged = settings.replace(database__url="postgresql://x@y/z", **dict(blob_dir=tmp_path / "staged"))
    assert staged.database_in_use == "postgresql://x@y/z" and staged.blobs_path == tmp_path / "staged"
    assert staged.server.port == settings.server.port == 8000 and settings.database.url is None
    assert Settings().server.port == 8000  # Settings(...) validates what it is given, nothing more
    with pytest.raises(ValueError, match="must start with"):
        settings.replace(database__url="mysql://x")


def test_the_process_environment_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHEVET_SERVER__PORT", "9300")
    monkeypatch.setenv("CHEVET_REDIS_URL", "redis://127.0.0.1:6379/0")
    s = load_settings(tmp_path)
    assert (s.server.port, s.bus.redis_url) == (9300, "redis://127.0.0.1:6379/0")


def test_push_works_by_default_with_the_major_browsers_and_none_disables_it(tmp_path: Path) -> None:
    from chevet.core.notification import push_service_allowed

    services = load_settings(tmp_path, environ={}).push.services
    for endpoint in ("https://fcm.googleapis.com/fcm/send/abc", "https://updates.push.services.mozilla.com/wpush/v2/x",
                     "https://web.push.apple.com/QGx", "https://wns2-par02p.notify.windows.com/w/?token=x"):
        assert push_service_allowed(endpoint, services), endpoint
    for endpoint in ("https://notify.windows.com.evil.example/w", "http://fcm.googleapis.com/fcm/send/abc",
                     "https://user@fcm.googleapis.com/x", "https://evilnotify.windows.com/w", "not a url"):
        assert not push_service_allowed(endpoint, services), endpoint
    assert load_settings(tmp_path, environ={"CHEVET_PUSH_SERVICES": "none"}).push.services == ()
