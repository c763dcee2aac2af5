import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chevet.core.audit import GENESIS, AuditEntry, entry_hash, verify_chain

CHAIN = uuid.uuid4()


def _chain(n: int) -> list[AuditEntry]:
    out, prev = [], GENESIS
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(1, n + 1):
        args = (CHAIN, seq, at + timedelta(seconds=seq), "message.sent", uuid.uuid4(), "message", uuid.uuid4(),
                "10.0.0.1", {"seq": seq})
        h = entry_hash(prev, *args)
        out.append(AuditEntry(*args, hash=h))
        prev = h
    return out


def test_an_intact_chain_verifies() -> None:
    entries = _chain(5)
    assert verify_chain(entries, 5, entries[-1].hash) is None


def test_an_altered_entry_is_named() -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], action="message.deleted")
    broken = verify_chain(entries)
    assert broken is not None and broken.seq == 3 and broken.reason == "altered"


def test_a_removed_entry_is_named() -> None:
    entries = _chain(5)
    del entries[1]
    broken = verify_chain(entries)
    assert broken is not None and broken.seq == 2 and broken.reason == "missing"


def test_a_removed_tail_is_detected_against_the_head() -> None:
    entries = _chain(5)
    broken = verify_chain(entries[:3], 5, entries[-1].hash)
    assert broken is not None and broken.reason == "truncated"


def test_rewriting_with_recomputed_hashes_is_caught_by_the_head_hash() -> None:
    entries = _chain(3)
    forged, prev = [], GENESIS
    for e in entries:
        d = {"seq": 99} if e.seq == 2 else e.detail
        h = entry_hash(prev, e.chain, e.seq, e.at, e.action, e.actor_id, e.object_type, e.object_id, e.ip, d)
        forged.append(replace(e, detail=d, hash=h))
        prev = h
    assert verify_chain(forged) is None  # self-consistent …
    broken = verify_chain(forged, 3, entries[-1].hash)  # … but not with the recorded head
    assert broken is not None
