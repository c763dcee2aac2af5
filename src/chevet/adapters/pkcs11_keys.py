"""Organisations' keys on a PKCS#11 token: an HSM, a smart card or a USB token the establishment
keeps (the ``pkcs11`` provider of ports/organisation_keys.py).

The organisation's key is an AES-256 secret key object created ON the token (CKA_TOKEN, private,
CKA_SENSITIVE, not CKA_EXTRACTABLE, usable only to encrypt and decrypt), labelled
``chevet-org-<organisation uuid>-v<version>``; its reference is ``<token name>/<label>``, the
token name being the one the settings give it. It never leaves the token: wrapping a data key is
the token's AES-GCM encryption of it (random 96-bit IV from ``os.urandom``, 128-bit tag, the
keyring's associated data), and unwrapping its decryption. Blob: IV | ciphertext and tag.

A token that cannot be used (pulled out, library failing, slot gone, PIN missing or refused,
key object not found on it) answers ``OrganisationKeyUnavailable``: nothing was read or written.
The session is dropped; after ``retry_seconds`` the next call initialises the PKCS#11 library
again (so that a token put back in is seen), finds the token by its label, reads the PIN again
(a corrected PIN file is taken) and logs in. Until then calls answer at once, without touching
the device.

PKCS#11 libraries are initialised once per process and python-pkcs11 does not ask for
multi-threaded access: every call into one library (all tokens it serves, all providers of the
process) is made under that library's lock, from the keyring's worker threads.

PINs and key material are never logged; logs name the token (its settings name) and the error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import DecryptMixin, EncryptMixin, SecretKey

from chevet.adapters.private_file import read_private
from chevet.core.errors import IntegrityError
from chevet.ports.organisation_keys import OrganisationKey, OrganisationKeyUnavailable

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library

log = logging.getLogger("chevet.pkcs11")

IV_BYTES = 12
TAG_BITS = 128
KEY_BITS = 256
RETRY_AFTER = 10  # seconds, for the 503's Retry-After

# What a decryption answers for a blob the key does not open. SoftHSM2 answers a wrong tag with
# CKR_GENERAL_ERROR: the token is then probed to tell a bad blob from a failing device.
_BAD_BLOB = (p11.EncryptedDataInvalid, p11.EncryptedDataLenRange, p11.DataInvalid, p11.DataLenRange,
             p11.GeneralError, p11.FunctionFailed)


class _AesKey(SecretKey, EncryptMixin, DecryptMixin):
    """What a secret key object found on the token offers (for the type checker)."""


class TokenSpec(Protocol):
    """A configured token (settings ``[organisation_keys.tokens.<name>]``)."""

    @property
    def module(self) -> Path: ...
    @property
    def label(self) -> str: ...
    @property
    def pin_file(self) -> Path | None: ...
    @property
    def pin_env(self) -> str | None: ...


def object_label(org_id: uuid.UUID, version: int) -> str:
    return f"chevet-org-{org_id}-v{version}"


def split_reference(reference: str) -> tuple[str, str]:
    """``<token name>/<object label>`` → (token name, label)."""
    name, sep, label = reference.partition("/")
    if not sep or not name or not label:
        raise ValueError("a PKCS#11 key reference is <token name>/<object label>")
    return name, label


class _Unreachable(Exception):
    """Why a token cannot be used now, in words for the log (never a PIN)."""


class _KeyMissing(Exception):
    """The token answers but does not hold this key object (another token under the same label,
    an object deleted by hand): that organisation's key is unavailable, the token is not."""


class _Library:
    """One PKCS#11 library of the process (python-pkcs11 keeps one per path)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.generation = 0   # how many times it was (re)initialised by us
        # PKCS#11 logs in the application, not a session: one logged-in session per token label,
        # shared by every provider of the process (a second login is refused; a logout would
        # log them all out).
        self.sessions: dict[str, _Open] = {}

    def get(self) -> Pkcs11Library:
        try:
            return pkcs11.lib(self.path)
        except (OSError, RuntimeError) as exc:
            raise _Unreachable(f"PKCS#11 library cannot be loaded ({type(exc).__name__})") from exc

    def reinitialise(self) -> None:
        """Finalise and initialise again: the library scans its slots anew. Every session it
        had is gone; the tokens notice by the generation and open new ones."""
        lib = self.get()
        try:
            lib.reinitialize()
        except p11.PKCS11Error:
            try:
                lib.initialize()
            except p11.PKCS11Error as exc:
                raise _Unreachable(f"PKCS#11 library cannot be initialised ({type(exc).__name__})") from exc
        self.generation += 1


@dataclass
class _Open:
    session: pkcs11.Session
    generation: int
    serial: str
    keys: dict[str, _AesKey] = field(default_factory=dict)


_libraries: dict[str, _Library] = {}
_libraries_lock = threading.Lock()


def _library(path: Path) -> _Library:
    key = str(path)
    with _libraries_lock:
        if key not in _libraries:
            _libraries[key] = _Library(key)
        return _libraries[key]


class _Token:
    """A configured token, as one provider sees it: its settings and when it last failed."""

    def __init__(self, name: str, spec: TokenSpec, environ: Mapping[str, str]) -> None:
        self.name = name
        self.spec = spec
        self.environ = environ
        self.library = _library(spec.module)
        self.failed_at: float | None = None
        self.failed_generation = -1

    @property
    def serial(self) -> str:
        return self.open().serial

    def pin(self) -> str:
        if self.spec.pin_env:
            value = self.environ.get(self.spec.pin_env)
            if not value:
                raise _Unreachable(f"PIN variable {self.spec.pin_env} is not set")
            return value.strip()
        assert self.spec.pin_file is not None
        if not self.spec.pin_file.exists():
            raise _Unreachable(f"PIN file {self.spec.pin_file} not found")
        pin = read_private(self.spec.pin_file, "PIN file", _Unreachable).strip()
        if not pin:
            raise _Unreachable(f"PIN file {self.spec.pin_file} is empty")
        return pin

    def current(self) -> _Open | None:
        lib = self.library
        found = lib.sessions.get(self.spec.label)
        return found if found is not None and found.generation == lib.generation else None

    def open(self) -> _Open:
        """The process's logged-in session on the token; opened anew (the library initialised
        again first if this token failed since the library last was) when there is none."""
        found = self.current()
        if found is not None:
            return found
        self.drop()
        lib = self.library
        fresh = False
        if self.failed_at is not None and self.failed_generation == lib.generation:
            lib.reinitialise()
            fresh = True
        while True:
            try:
                token = lib.get().get_token(token_label=self.spec.label)
                break
            except p11.NoSuchToken as exc:
                if fresh:
                    raise _Unreachable(f"token {self.spec.label!r} is not present") from exc
                # Libraries list their tokens when initialised: one inserted since is seen anew.
                lib.reinitialise()
                fresh = True
            except p11.MultipleTokensReturned as exc:
                raise _Unreachable(f"several tokens are labelled {self.spec.label!r}") from exc
        pin = self.pin()
        try:
            session = token.open(rw=True, user_pin=pin)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as exc:
            raise _Unreachable("the token refused the PIN") from exc
        except p11.PinLocked as exc:
            raise _Unreachable("the token's PIN is locked") from exc
        opened = _Open(session, lib.generation, bytes(token.serial).decode("ascii", "replace").strip())
        lib.sessions[self.spec.label] = opened
        return opened

    def key(self, label: str) -> _AesKey:
        opened = self.open()
        cached = opened.keys.get(label)
        if cached is not None:
            return cached
        try:
            found = self._find(opened, label)
        except p11.NoSuchKey:
            # Not there, or the token is not either: some libraries (SoftHSM2) keep a session on
            # a removed token, finding nothing. Looked for again with the library initialised
            # anew: a missing token is then a token failure, a missing object only this key's.
            self.drop()
            self.library.reinitialise()
            opened = self.open()
            try:
                found = self._find(opened, label)
            except p11.NoSuchKey as exc:
                raise _KeyMissing from exc
        opened.keys[label] = found
        return found

    @staticmethod
    def _find(opened: _Open, label: str) -> _AesKey:
        found = opened.session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label)
        return cast(_AesKey, found)

    def forget_key(self, label: str) -> None:
        opened = self.current()
        if opened is not None:
            opened.keys.pop(label, None)

    def drop(self) -> None:
        """Forget the session (closing it only while it is still the library's)."""
        lib = self.library
        opened = lib.sessions.pop(self.spec.label, None)
        if opened is not None and opened.generation == lib.generation:
            try:
                opened.session.close()
            except p11.PKCS11Error:
                pass

    def failed(self, at: float) -> None:
        self.drop()
        self.failed_at, self.failed_generation = at, self.library.generation


class Pkcs11Provider:
    """The ``pkcs11`` provider: keys on the tokens named in the settings."""

    name = "pkcs11"

    def __init__(self, tokens: Mapping[str, TokenSpec], retry_seconds: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._tokens = {name: _Token(name, spec, env) for name, spec in tokens.items()}
        self._retry_seconds = retry_seconds
        self._monotonic = monotonic

    @property
    def token_names(self) -> list[str]:
        return sorted(self._tokens)

    # -- the provider -------------------------------------------------------------------------

    def create(self, org_id: uuid.UUID, version: int, token: str | None) -> tuple[str, bytes | None]:
        if token is None or token not in self._tokens:
            raise ValueError(f"no PKCS#11 token named {token!r} in the settings "
                             f"(organisation_keys.tokens: {', '.join(self.token_names) or 'none'})")
        label = object_label(org_id, version)
        with self._using(token, org_id) as t:
            session = t.open().session
            try:
                existing = cast(_AesKey, session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES,
                                                         label=label))
            except p11.NoSuchKey:
                existing = None
            if existing is not None:
                # A creation interrupted before its row was stored: nothing was wrapped by it yet.
                if not _well_kept(existing):
                    raise ValueError(f"object {label} on token {token} is not a sensitive, unextractable key")
                log.info("pkcs11 key object already on the token; reused", extra={"token": token})
            else:
                session.generate_key(
                    KeyType.AES, KEY_BITS, label=label, id=org_id.bytes + version.to_bytes(4, "big"), store=True,
                    template={Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                              Attribute.ENCRYPT: True, Attribute.DECRYPT: True, Attribute.WRAP: False,
                              Attribute.UNWRAP: False, Attribute.SIGN: False, Attribute.VERIFY: False,
                              Attribute.DERIVE: False, Attribute.MODIFIABLE: False})
                log.info("pkcs11 key object created", extra={"token": token, "version": version})
        return f"{token}/{label}", None

    def wrap(self, key: OrganisationKey, data_key: bytes, associated: bytes) -> bytes:
        name, label = self._reference(key)
        iv = os.urandom(IV_BYTES)
        with self._using(name, key.org_id) as t:
            secret = t.key(label)
            sealed = secret.encrypt(data_key, mechanism=Mechanism.AES_GCM,
                                    mechanism_param=GCMParams(iv, associated, TAG_BITS))
            assert isinstance(sealed, bytes)
            return iv + sealed

    def unwrap(self, key: OrganisationKey, wrapped: bytes, associated: bytes) -> bytes:
        name, label = self._reference(key)
        if len(wrapped) < IV_BYTES + TAG_BITS // 8:
            raise IntegrityError("ciphertext_invalid")
        iv, sealed = wrapped[:IV_BYTES], wrapped[IV_BYTES:]
        with self._using(name, key.org_id) as t:
            secret = t.key(label)
            try:
                opened = secret.decrypt(sealed, mechanism=Mechanism.AES_GCM,
                                        mechanism_param=GCMParams(iv, associated, TAG_BITS))
                assert isinstance(opened, bytes)
                return opened
            except _BAD_BLOB as exc:
                self._probe(t, label)  # the token still answers: the blob is at fault
                raise IntegrityError("ciphertext_invalid") from exc

    def destroy(self, key: OrganisationKey) -> str:
        name, label = self._reference(key)
        with self._using(name, key.org_id) as t:
            session = t.open().session
            t.forget_key(label)
            found = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label}))
            for obj in found:
                obj.destroy()
            what = (f"objet PKCS#11 {label} sur le jeton {t.spec.label} (nom {name}, numéro de série {t.serial})")
        log.info("pkcs11 key object destroyed", extra={"token": name, "version": key.version, "found": len(found)})
        return what + (", détruit" if found else ", déjà absent du jeton")

    def check(self, key: OrganisationKey) -> None:
        name, label = self._reference(key)
        with self._using(name, key.org_id) as t:
            self._probe(t, label)

    def serial(self, token: str) -> str:
        """The token's serial number (for the shredding statement); reaches the token."""
        with self._using(token, None) as t:
            return t.serial

    # -- reaching a token ---------------------------------------------------------------------

    def _reference(self, key: OrganisationKey) -> tuple[str, str]:
        try:
            return split_reference(key.reference)
        except ValueError as exc:
            raise IntegrityError("ciphertext_invalid") from exc

    @staticmethod
    def _probe(t: _Token, label: str) -> None:
        """The key object is still there and the session answers (raises otherwise)."""
        t.forget_key(label)
        t.key(label)

    @contextmanager
    def _using(self, name: str, org_id: uuid.UUID | None) -> Iterator[_Token]:
        """The token, under its library's lock; any failure of the token makes it unavailable
        (the session dropped, the library initialised again after retry_seconds)."""
        t = self._tokens.get(name)
        if t is None:
            log.error("pkcs11 token not in the settings", extra={"token": name})
            raise _unavailable(org_id)
        with t.library.lock:
            now = self._monotonic()
            if t.failed_at is not None and now - t.failed_at < self._retry_seconds:
                raise _unavailable(org_id)
            try:
                yield t
            except IntegrityError:
                raise
            except _KeyMissing as exc:
                log.warning("pkcs11 key object not on the token", extra={"token": name})
                raise _unavailable(org_id) from exc
            except _Unreachable as exc:
                self._failed(t, now, str(exc))
                raise _unavailable(org_id) from exc
            except p11.PKCS11Error as exc:
                self._failed(t, now, type(exc).__name__)
                raise _unavailable(org_id) from exc
            else:
                if t.failed_at is not None:
                    log.warning("pkcs11 token back", extra={"token": name})
                    t.failed_at = None

    @staticmethod
    def _failed(t: _Token, at: float, reason: str) -> None:
        if t.failed_at is None:
            log.warning("pkcs11 token unavailable", extra={"token": t.name, "reason": reason})
        t.failed(at)


def _unavailable(org_id: uuid.UUID | None) -> OrganisationKeyUnavailable:
    return OrganisationKeyUnavailable(org_id or uuid.UUID(int=0), RETRY_AFTER)


def _well_kept(obj: _AesKey) -> bool:
    return bool(obj[Attribute.SENSITIVE]) and not bool(obj[Attribute.EXTRACTABLE]) and bool(obj[Attribute.TOKEN])
