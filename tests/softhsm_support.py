"""Throwaway SoftHSM2 tokens for the organisation-key tests: a real PKCS#11 token, not a mock.

How to use (the fixtures are declared once, in ``tests/conftest.py``)::

    from tests.softhsm_support import SoftHsmToken

    async def test_x(tmp_path, database_url, softhsm_token: SoftHsmToken):
        inst = await new_installation(tmp_path / "data", database_url, **softhsm_token.settings())
        ...  # an organisation's key on it: provider "pkcs11", token softhsm_token.name
        with softhsm_token.removed():   # the token is pulled out: its directory is moved away
            ...                          # that organisation answers 503
        ...                              # put back: service resumes by itself
        with softhsm_token.wrong_pin():  # the PIN file holds a wrong PIN
            ...

- ``softhsm`` (session, one per test process): one SoftHSM2 configuration in a temporary directory, named by
  ``SOFTHSM2_CONF`` in this process's environment (SoftHSM reads it when the library is
  initialised). ``softhsm.new_token("ehpad-b")`` adds another token (own label, PIN, serial).
- ``softhsm_token`` (session): the token ``ehpad-a`` on it. Its objects (organisation keys) stay
  for the session: every test uses its own organisations, so its own object labels.
- ``token.settings()`` gives the keyword overrides of ``make_settings``/``new_installation``
  declaring the token (and ``token_retry_seconds = 0``, so that a test sees the token again at
  its first try after putting it back); ``settings_for(a, b)`` declares several.
- ``token.pkcs11_tool(...)`` runs OpenSC's ``pkcs11-tool`` logged in on the token: an
  independent reading of what is on it.

In CI (``CI=true``) SoftHSM2 must be there (``.ci/setup-softhsm`` installs it); elsewhere the
tests that need it are skipped when it is absent.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import IN_CI

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
           "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so")
SO_PIN = "87654321"


def softhsm_module() -> Path | None:
    for candidate in MODULES:
        if os.path.exists(candidate):
            return Path(candidate)
    return None


def _require_softhsm() -> Path:
    module = softhsm_module()
    missing = [what for what, ok in (("libsofthsm2.so", module is not None),
                                     ("softhsm2-util", shutil.which("softhsm2-util") is not None)) if not ok]
    if missing:
        if IN_CI:
            pytest.fail(f"SoftHSM2 is required in CI ({', '.join(missing)} missing): run .ci/setup-softhsm")
        pytest.skip(f"SoftHSM2 is not installed ({', '.join(missing)}): .ci/setup-softhsm")
    assert module is not None
    return module


@dataclass
class SoftHsmToken:
    """One initialised token. ``name`` is the name settings give it (the reference stored for an
    organisation's key is ``<name>/<object label>``); ``label`` is what the token calls itself."""

    softhsm: SoftHsm
    name: str
    label: str
    pin: str
    pin_file: Path
    serial: str
    directory: Path           # its directory in SoftHSM's token directory

    @property
    def module(self) -> Path:
        return self.softhsm.module

    def config(self) -> dict[str, Any]:
        return {"module": str(self.module), "label": self.label, "pin_file": str(self.pin_file)}

    def settings(self) -> dict[str, Any]:
        return settings_for(self)

    @property
    def present(self) -> bool:
        return self.directory.is_dir()

    def remove(self) -> None:
        """Pull the token out: SoftHSM no longer finds it (open sessions fail, the slot is gone
        once the library is initialised again)."""
        self.directory.rename(self.softhsm.removed_dir / self.directory.name)

    def reinsert(self) -> None:
        (self.softhsm.removed_dir / self.directory.name).rename(self.directory)

    @contextlib.contextmanager
    def removed(self) -> Iterator[None]:
        self.remove()
        try:
            yield
        finally:
            self.reinsert()

    @contextlib.contextmanager
    def wrong_pin(self) -> Iterator[None]:
        """The PIN file holds a wrong PIN (SoftHSM2 does not lock its user PIN after failures)."""
        self.pin_file.write_text("0000\n")
        try:
            yield
        finally:
            self.pin_file.write_text(self.pin + "\n")

    def pkcs11_tool(self, *args: str) -> str:
        """OpenSC's pkcs11-tool on this token, logged in; its standard output."""
        tool = shutil.which("pkcs11-tool")
        if tool is None:
            if IN_CI:
                pytest.fail("pkcs11-tool (opensc) is required in CI: run .ci/setup-softhsm")
            pytest.skip("pkcs11-tool (opensc) is not installed: .ci/setup-softhsm")
        done = subprocess.run([tool, "--module", str(self.module), "--token-label", self.label, "--login",
                               "--pin", self.pin, *args], capture_output=True, text=True, check=False,
                              env=self.softhsm.environ, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"pkcs11-tool {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout


def settings_for(*tokens: SoftHsmToken) -> dict[str, Any]:
    """Overrides for make_settings/new_installation declaring these tokens."""
    return {"organisation_keys__tokens": {t.name: t.config() for t in tokens},
            "organisation_keys__token_retry_seconds": 0}


@dataclass
class SoftHsm:
    module: Path
    base: Path
    tokens: dict[str, SoftHsmToken] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.base / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        return self.base / "tokens"

    @property
    def removed_dir(self) -> Path:
        return self.base / "removed"

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def new_token(self, name: str, label: str | None = None) -> SoftHsmToken:
        label = label or name.upper()
        pin = f"{secrets.randbelow(10**8):08d}"
        before = set(self.token_dir.iterdir())
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN,
                        "--pin", pin], check=True, capture_output=True, env=self.environ, timeout=60)
        (directory,) = set(self.token_dir.iterdir()) - before
        pin_file = self.base / f"{name}.pin"
        pin_file.touch(mode=0o600)
        pin_file.write_text(pin + "\n")
        token = SoftHsmToken(self, name, label, pin, pin_file, _serial(self, label), directory)
        self.tokens[name] = token
        return token


def _serial(softhsm: SoftHsm, label: str) -> str:
    shown = subprocess.run(["softhsm2-util", "--show-slots"], check=True, capture_output=True, text=True,
                           env=softhsm.environ, timeout=60).stdout
    serial = ""
    for line in shown.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Serial number":
            serial = value.strip()
        elif key == "Label" and value.strip() == label:
            return serial
    raise AssertionError(f"token {label} not listed by softhsm2-util")


def start_softhsm() -> SoftHsm:
    module = _require_softhsm()
    base = Path(tempfile.mkdtemp(prefix="chevet-softhsm-"))
    softhsm = SoftHsm(module, base)
    softhsm.token_dir.mkdir(mode=0o700)
    softhsm.removed_dir.mkdir(mode=0o700)
    softhsm.conf.write_text(f"directories.tokendir = {softhsm.token_dir}\nobjectstore.backend = file\n"
                            "log.level = ERROR\nslots.removable = false\n")
    return softhsm


@pytest.fixture(scope="session")
def softhsm() -> Iterator[SoftHsm]:
    hsm = start_softhsm()
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    try:
        yield hsm
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
        shutil.rmtree(hsm.base, ignore_errors=True)


@pytest.fixture(scope="session")
def softhsm_token(softhsm: SoftHsm) -> SoftHsmToken:
    return softhsm.new_token("ehpad-a", "EHPAD-A")
