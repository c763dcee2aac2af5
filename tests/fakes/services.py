"""The clock, the bus, the key store and the password hasher the fakes' ``Services`` use."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from chevet.core import envelope
from chevet.core.entities import RealtimeEvent
from chevet.core.signalement.deadlines import FormKind
from tests.fakes.errors import not_faked


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, by: timedelta) -> None:
        self._now += by


class FakeBus:
    """Records what is published, one list per ``publish`` call (one per committed action);
    nothing is delivered."""

    def __init__(self) -> None:
        self.published: list[list[RealtimeEvent]] = []

    async def publish(self, events: Sequence[RealtimeEvent]) -> None:
        self.published.append(list(events))

    async def start(self, deliver: Callable[[RealtimeEvent], None],
                    reconnected: Callable[[], None] | None = None) -> None:
        raise not_faked("EventBus.start")

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class FakeKeyStore:
    """One master key, never rotated, wrapping with the real envelope (so a key unwrapped with
    the wrong associated data fails as it would). Wrapped blobs carry no key number."""

    def __init__(self) -> None:
        self._master = envelope.random_key()

    def wrap(self, data_key: bytes, associated: bytes) -> bytes:
        return envelope.seal(self._master, data_key, associated)

    def unwrap(self, wrapped: bytes, associated: bytes) -> bytes:
        return envelope.open_sealed(self._master, wrapped, associated)

    def derive(self, purpose: str) -> bytes:
        return envelope.derive_key(self._master, purpose)

    def derive_all(self, purpose: str) -> list[bytes]:
        return [self.derive(purpose)]

    def current_key_id(self) -> int:
        return 1

    def key_ids(self) -> list[int]:
        return [1]

    def key_id_of(self, wrapped: bytes) -> int:
        return 1

    def reload(self, *, force: bool = False) -> None:
        return None


class FakePasswords:
    """Not faked: no rule tested with fakes signs anyone in."""

    async def hash(self, password: str) -> str:
        raise not_faked("PasswordHasher.hash")

    async def verify(self, stored: str | None, password: str) -> bool:
        raise not_faked("PasswordHasher.verify")


class FakeDeclarations:
    """Not faked: no rule tested with fakes prints a declaration."""

    def render(self, kind: FormKind, values: Mapping[str, Any], *, organisation: str, report_ref: str,
               severity_label: str, validated_by: str, validated_at: datetime, generated_at: datetime) -> bytes:
        raise not_faked("DeclarationPrinter.render")

