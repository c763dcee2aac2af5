"""The flat names settings had before they were grouped in sections.

Installed bases use them as ``chevet.toml`` keys (``port = 8443``) and as ``CHEVET_*`` variables
(``CHEVET_HTTP_MAX_HEADERS``); both keep working. The sections are the documented form:
``[server] port = 8443`` and ``CHEVET_SERVER__PORT``. Names that did not move (``data_dir``,
``log_level``, ``default_language``) are not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chevet.settings.errors import SettingsError

NESTED_DELIMITER = "__"

FLAT_NAMES: dict[str, str] = {
    "host": "server.host",
    "port": "server.port",
    "public_url": "server.public_url",
    "stream_deflate": "server.stream_deflate",
    "tls_cert_file": "tls.cert_file",
    "tls_key_file": "tls.key_file",
    "tls_ciphers": "tls.ciphers",
    "http_max_request_line_bytes": "http.max_request_line_bytes",
    "http_max_header_bytes": "http.max_header_bytes",
    "http_max_headers": "http.max_headers",
    "http_header_timeout_seconds": "http.header_timeout_seconds",
    "http_body_timeout_seconds": "http.body_timeout_seconds",
    "http_body_min_bytes_per_second": "http.body_min_bytes_per_second",
    "http_max_connections_per_address": "http.max_connections_per_address",
    "max_request_bytes": "http.max_request_bytes",
    "database_url": "database.url",
    "sqlite_synchronous": "database.sqlite_synchronous",
    "redis_url": "bus.redis_url",
    "master_key_file": "keys.master_key_file",
    "key_backup_file": "keys.backup_file",
    "max_message_bytes": "messages.max_bytes",
    "session_hours": "sessions.hours",
    "session_cache_seconds": "sessions.cache_seconds",
    "session_idle_minutes": "sessions.idle_minutes",
    "reauth_minutes": "sessions.reauth_minutes",
    "lockout_threshold": "sign_in.lockout_threshold",
    "lockout_minutes": "sign_in.lockout_minutes",
    "login_attempts_per_minute_per_ip": "sign_in.attempts_per_minute_per_ip",
    "invitation_days": "sign_in.invitation_days",
    "password_time_cost": "passwords.time_cost",
    "password_memory_kib": "passwords.memory_kib",
    "psc_client_id": "psc.client_id",
    "psc_client_secret": "psc.client_secret",
    "psc_issuer": "psc.issuer",
    "psc_authorize_url": "psc.authorize_url",
    "psc_token_url": "psc.token_url",
    "psc_userinfo_url": "psc.userinfo_url",
    "psc_jwks_url": "psc.jwks_url",
    "psc_logout_url": "psc.logout_url",
    "psc_client_cert": "psc.client_cert",
    "psc_client_key": "psc.client_key",
    "psc_ca_file": "psc.ca_file",
    "psc_allow_hs256": "psc.allow_hs256",
    "blob_dir": "attachments.blob_dir",
    "max_upload_bytes": "attachments.max_upload_bytes",
    "attachment_types": "attachments.types",
    "max_image_pixels": "attachments.max_image_pixels",
    "image_max_side": "attachments.image_max_side",
    "image_target_bytes": "attachments.image_target_bytes",
    "image_format": "attachments.image_format",
    "quota_org_bytes": "attachments.quota_org_bytes",
    "quota_person_bytes": "attachments.quota_person_bytes",
    "clamd_socket": "attachments.clamd_socket",
    "pending_attachment_hours": "attachments.pending_hours",
    "footprint_network_g_per_gb": "footprint.network_g_per_gb",
    "footprint_storage_g_per_gb_year": "footprint.storage_g_per_gb_year",
    "footprint_storage_source": "footprint.storage_source",
    "audit_key_file": "audit.key_file",
    "audit_retention_days": "audit.retention_days",
    "checkpoint_minutes": "audit.checkpoint_minutes",
    "retention_interval_hours": "retention.interval_hours",
    "controller": "governance.controller",
    "dpo_contact": "governance.dpo_contact",
    "hosting_provider": "governance.hosting_provider",
    "hosting_location": "governance.hosting_location",
    "backup_location": "governance.backup_location",
    "push_services": "push.services",
    "push_contact": "push.contact",
}

SettingPath = tuple[str, ...]


def nest(values: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[SettingPath, str]]:
    """``values`` with flat names and ``section__name`` keys put in their sections, and the flat
    name each moved setting was given as (so that errors can quote it). A setting given twice in
    ``where`` (as its flat name and in its section) is an error."""
    nested: dict[str, Any] = {}
    given_as: dict[SettingPath, str] = {}
    for key, value in values.items():
        if key in FLAT_NAMES:
            continue
        path = tuple(key.split(NESTED_DELIMITER))
        _put(nested, path, value, where, key)
    for key, value in values.items():
        if key in FLAT_NAMES:
            path = tuple(FLAT_NAMES[key].split("."))
            _put(nested, path, value, where, key)
            given_as[path] = key
    return nested, given_as


def _put(into: dict[str, Any], path: SettingPath, value: Any, where: str, key: str) -> None:
    *sections, name = path
    for section in sections:
        inner = into.setdefault(section, {})
        if not isinstance(inner, dict):
            raise SettingsError(f"{where}: {'.'.join(path)} is given twice (as {key} and within {section})")
        into = inner
    if name in into and not (isinstance(into[name], dict) and isinstance(value, dict)):
        raise SettingsError(f"{where}: {'.'.join(path)} is given twice (as {key} and in its section)")
    into[name] = merged(into[name], value) if name in into else value


def merged(base: Any, update: Any) -> Any:
    """``update`` over ``base``, section by section."""
    if isinstance(base, dict) and isinstance(update, dict):
        return {**base, **{k: merged(base[k], v) if k in base else v for k, v in update.items()}}
    return update
