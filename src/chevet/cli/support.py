"""Shared bits of the CLI commands: settings, running an action, errors, secrets for archives."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from chevet.bootstrap import Installation, open_installation
from chevet.core.errors import ChevetError
from chevet.core.sealed_archive import passphrase_header, recipient_header
from chevet.settings import Settings, SettingsError, load_settings
from chevet.web.i18n import gettext

T = TypeVar("T")
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Installation folder (default: from "
                                              "CHEVET_DATA_DIR or ./chevet-data).")]
PASSPHRASE_ENV = "CHEVET_EXPORT_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(data_dir, **overrides)
    except SettingsError as exc:
        raise fail(str(exc), 2) from exc


def run(fn: Callable[[Installation], Awaitable[T]], settings: Settings) -> T:
    async def go() -> T:
        try:
            installation = open_installation(settings, with_bus=False)
        except SettingsError as exc:
            raise fail(str(exc), 2) from exc
        try:
            return await fn(installation)
        finally:
            await installation.close()

    try:
        return asyncio.run(go())
    except ChevetError as exc:
        raise fail(gettext(exc.code, "en", **exc.params)) from exc


def parse_time(value: str | None, option: str) -> datetime | None:
    """A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 time; naive times are UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{option}: expected a date like 2026-01-31 or an ISO 8601 time", 2) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def passphrase(confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise fail(f"no passphrase: set {PASSPHRASE_ENV} or run on a terminal", 2)
    return str(typer.prompt("Archive passphrase", hide_input=True, confirmation_prompt=confirm))


def sealing(recipient: Path | None) -> tuple[bytes, bytes]:
    """Header and key for a new archive: the recipient's X25519 public key if given, otherwise
    a passphrase."""
    try:
        if recipient is not None:
            key = serialization.load_pem_public_key(recipient.read_bytes())
            if not isinstance(key, X25519PublicKey):
                raise fail(f"{recipient}: not an X25519 public key (openssl genpkey -algorithm X25519)", 2)
            return recipient_header(key.public_bytes_raw())
        return passphrase_header(passphrase(confirm=True))
    except ChevetError as exc:
        raise fail(gettext(exc.code, "en", **exc.params), 2) from exc
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the recipient key: {exc}", 2) from exc


def identity_from(path: Path | None) -> X25519PrivateKey | None:
    if path is None:
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise fail(f"cannot read the identity key: {exc}", 2) from exc
    if not isinstance(key, X25519PrivateKey):
        raise fail(f"{path}: not an X25519 private key", 2)
    return key


def progress(stage: str, done: int, total: int) -> None:
    shown = f"{done}/{total}" if total else str(done)
    typer.echo(f"\r{stage}: {shown}   ", err=True, nl=False)
    if total and done == total:
        typer.echo("", err=True)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def echo_json(value: Any) -> None:
    import orjson

    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
