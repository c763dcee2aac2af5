"""What someone with write access to the database alone can do to the audit trail, and how the
witness outside the database names each one (docs/governance.md, « Ce que le témoin ajoute »).

Each test tampers with the real database (SQLite and PostgreSQL) the way the issue lists —
head removed, tail and head cut, head moved back, a chain erased, every chain erased, the
checkpoints erased — or with the witness file (cut, missing), then runs ``chevet audit verify``
as the operator would, in its own process, and reads its sentences. An untouched installation,
one after retention and one after pruning verify."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import delete, update

from chevet.adapters.db.schema import audit_entry, audit_head
from chevet.adapters.db.schema_governance import audit_anchor, audit_checkpoint
from chevet.app.governance import audit_trail, retention, witnessing
from chevet.bootstrap import Installation
from chevet.core.witness import parse_line, with_timestamp
from tests.governance_support import Scene, cli, remove_trail, say, scene, use_clock
from tests.support import new_installation
from tests.tsa_support import local_tsa, openssl_verifies


async def _busy(installation: Installation) -> Scene:
    """An organisation that talked, was checkpointed (and witnessed), then talked again and was
    checkpointed again: what the server does every few minutes."""
    svc = installation.services
    s = await scene(svc)
    for i in range(3):
        await say(svc, s.nurse, s.care, f"note {i}")
    await audit_trail.checkpoint_all(svc)
    for i in range(3):
        await say(svc, s.physician, s.care, f"réponse {i}")
    await audit_trail.checkpoint_all(svc)
    return s


def _verify(installation: Installation, *args: str) -> tuple[int, str]:
    r = cli(installation, "audit", "verify", *args)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout


async def test_an_untouched_installation_verifies_with_its_witness(installation: Installation) -> None:
    await _busy(installation)
    assert not (await witnessing.verify_trail(installation.services)).broken
    code, out = _verify(installation)
    assert code == 0, out
    assert f"witness {installation.settings.audit_witness}: ok (" in out
    # The witness is outside the data folder, where the documentation says to move it from.
    assert not installation.settings.audit_witness.is_relative_to(installation.settings.data_dir.resolve())


async def test_a_removed_head_is_named(installation: Installation) -> None:
    s = await _busy(installation)
    async with installation.services.db.transaction() as tx:
        await tx.conn.execute(delete(audit_head).where(audit_head.c.chain == s.org.id))
    code, out = _verify(installation)
    assert code == 1
    assert f"chain {s.org.id}: BROKEN" in out and "the chain's head record is gone" in out


async def _last_seq(installation: Installation, s: Scene) -> int:
    async with installation.services.db.transaction() as tx:
        head = await tx.audit.head(s.org.id)
    assert head is not None
    return head[0]


async def _cut_to(installation: Installation, s: Scene, seq: int) -> None:
    """The careful attacker: entries, head and every checkpoint past ``seq`` go, all consistent."""
    async with installation.services.db.transaction() as tx:
        keep = await tx.audit_trail.entry_at(s.org.id, seq)
        assert keep is not None
        await remove_trail(tx, s.org.id, from_seq=seq + 1)
        await tx.conn.execute(update(audit_head).where(audit_head.c.chain == s.org.id).values(seq=seq, hash=keep.hash))
        await tx.conn.execute(delete(audit_checkpoint).where(audit_checkpoint.c.chain == s.org.id,
                                                             audit_checkpoint.c.seq > seq))


async def test_a_tail_cut_with_its_head_and_its_checkpoints_is_named(installation: Installation) -> None:
    s = await _busy(installation)
    last = await _last_seq(installation, s)
    await _cut_to(installation, s, last - 4)
    code, out = _verify(installation)
    assert code == 1
    assert (f"chain {s.org.id}: CUT — the witness holds its checkpoint at entry #{last}, the database goes only "
            f"to #{last - 4}") in out


async def test_a_head_moved_back_over_entries_since_the_last_checkpoint_is_named_once_witnessed(
        installation: Installation) -> None:
    svc = installation.services
    s = await _busy(installation)
    await say(svc, s.nurse, s.care, "après le dernier point")
    last = await _last_seq(installation, s)
    await audit_trail.checkpoint_all(svc)  # the periodic checkpoint (every checkpoint_minutes, and at shutdown)
    await _cut_to(installation, s, last - 1)
    code, out = _verify(installation)
    assert code == 1
    assert f"chain {s.org.id}: CUT — the witness holds its checkpoint at entry #{last}" in out


async def _erase(installation: Installation, chain: uuid.UUID | None) -> None:
    async with installation.services.db.transaction() as tx:
        for table in (audit_entry, audit_head, audit_checkpoint, audit_anchor):
            stmt = delete(table)
            await tx.conn.execute(stmt if chain is None else stmt.where(table.c.chain == chain))
        for c in [chain] if chain is not None else [o.id for o in await tx.organisations.all()]:
            await remove_trail(tx, c, from_seq=0)


async def test_an_erased_chain_is_named(installation: Installation) -> None:
    s = await _busy(installation)
    await _erase(installation, s.org.id)
    code, out = _verify(installation)
    assert code == 1
    assert f"chain {s.org.id}: ERASED — the witness holds its checkpoint at entry #" in out
    assert f"organisation {s.org.id}: NO CHAIN" in out


async def test_every_chain_erased_is_named(installation: Installation) -> None:
    s = await _busy(installation)
    await _erase(installation, None)
    code, out = _verify(installation)
    assert code == 1
    assert f"chain {s.org.id}: ERASED" in out
    assert "chain 00000000-0000-0000-0000-000000000000: ERASED" in out  # the installation's own chain


async def test_erased_checkpoints_are_named(installation: Installation) -> None:
    s = await _busy(installation)
    async with installation.services.db.transaction() as tx:
        await tx.conn.execute(delete(audit_checkpoint))
    code, out = _verify(installation)
    assert code == 1
    assert f"chain {s.org.id}: 2 signed checkpoints that the witness holds were ERASED from the database" in out


async def test_a_cut_or_missing_witness_is_named(installation: Installation) -> None:
    await _busy(installation)
    path = installation.settings.audit_witness
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 3
    path.write_bytes(b"".join(lines[:-1]))  # its end
    code, out = _verify(installation)
    assert code == 1 and "is not in the witness — the witness lost its end" in out
    path.write_bytes(b"".join([lines[0], *lines[2:]]))  # its middle
    code, out = _verify(installation)
    assert code == 1 and "witness: CUT — records are missing before record #2" in out
    path.write_bytes(b"".join(lines[1:]))  # its start
    code, out = _verify(installation)
    assert code == 1 and "witness: CUT at its start — its first record is #2" in out
    path.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"seq":', b'"seq":1', 1))  # an edit
    code, out = _verify(installation)
    assert code == 1 and f"witness: record #{len(lines)} is not signed by the audit key" in out
    path.unlink()
    code, out = _verify(installation)
    assert code == 1 and "witness: MISSING — there is no witness file" in out


async def test_retention_and_pruning_leave_a_trail_that_verifies(installation: Installation) -> None:
    svc = installation.services
    clock = use_clock(svc)
    s = await _busy(installation)
    clock.advance(days=400)
    await say(svc, s.nurse, s.care, "récent")
    await retention.purge(svc)  # deletes the old messages, writes its own entries
    await audit_trail.checkpoint_all(svc)
    pruned = await audit_trail.prune(svc)
    assert any(r.chain == str(s.org.id) and r.removed > 0 for r in pruned)
    await audit_trail.checkpoint_all(svc)
    report = await witnessing.verify_trail(svc)
    assert not report.broken, report
    code, out = _verify(installation)
    assert code == 0, out


async def test_an_auditor_checks_against_her_own_copy_of_the_witness(installation: Installation) -> None:
    s = await _busy(installation)
    copy = installation.settings.data_dir.parent / "copie-auditeur.log"
    copy.write_bytes(installation.settings.audit_witness.read_bytes())
    installation.settings.audit_witness.unlink()  # the installation's own is gone; hers is not
    last = await _last_seq(installation, s)
    await _cut_to(installation, s, last - 2)
    code, out = _verify(installation)
    assert code == 1 and "witness: MISSING" in out
    code, out = _verify(installation, "--witness", str(copy))
    assert code == 1 and f"chain {s.org.id}: CUT — the witness holds its checkpoint at entry #{last}" in out
    assert "witness: MISSING" not in out


async def test_witness_records_are_time_stamped_by_a_real_rfc3161_authority_and_sent_to_syslog(
        tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    with local_tsa(tmp_path / "tsa") as tsa:
        installation = await new_installation(
            tmp_path / "data", None, audit__tsa_url=tsa.url, audit__tsa_ca_file=str(tsa.ca_file),
            audit__witness_syslog=f"127.0.0.1:{listener.getsockname()[1]}")
        try:
            s = await _busy(installation)
            records = [parse_line(raw) for raw in installation.settings.audit_witness.read_bytes().splitlines()]
            assert len(records) >= 3 and all(r.timestamp_token for r in records)
            assert tsa.requests == len(records)
            # OpenSSL, not our reader, checks a token against the record's hash.
            last = records[-1]
            assert last.timestamp_token is not None
            checked = openssl_verifies(tsa.folder, last.timestamp_token, last.hash)
            assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
            env = {"CHEVET_AUDIT__TSA_CA_FILE": str(tsa.ca_file), "CHEVET_AUDIT__TSA_URL": tsa.url}
            r = cli(installation, "audit", "verify", env=env)
            assert r.returncode == 0, r.stdout + r.stderr
            assert f"{len(records)} time-stamps checked" in r.stdout
            # A token swapped between two records no longer stamps that record.
            path = installation.settings.audit_witness
            swapped = with_timestamp(records[1], records[0].timestamp_token or b"")
            lines = path.read_bytes().splitlines()
            path.write_bytes(b"\n".join([lines[0], swapped.line(), *lines[2:]]) + b"\n")
            r = cli(installation, "audit", "verify", env=env)
            assert r.returncode == 1 and "witness: record #2: its time-stamp is INVALID (imprint)" in r.stdout
            # Syslog received one line per witnessed checkpoint, and one per record.
            seen = []
            while True:
                try:
                    seen.append(listener.recv(4096).decode())
                except TimeoutError:
                    break
                if sum("kind=" in m for m in seen) >= len(records) - 1:
                    break
            assert any(f"chain={s.org.id.hex}" in m for m in seen)
            assert all("chevet-audit-witness:" in m for m in seen)
        finally:
            await installation.close()
            listener.close()


async def test_each_record_is_posted_to_a_remote_witness_over_https(tmp_path: Path) -> None:
    """A remote witness (another host, another administrator) receives each record over TLS,
    checked against its CA; what it keeps verifies as a witness of its own."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem"), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    installation = await new_installation(
        tmp_path / "data", None, audit__witness_url=f"https://127.0.0.1:{server.server_address[1]}/temoin",
        audit__witness_ca_file=str(tmp_path / "c.pem"))
    try:
        await _busy(installation)
        local = installation.settings.audit_witness.read_bytes().splitlines()
        assert received == local[1:]  # every record after the opening one, byte for byte
        remote = tmp_path / "remote.log"
        remote.write_bytes(b"\n".join([local[0], *received]) + b"\n")
        code, out = _verify(installation, "--witness", str(remote))
        assert code == 0, out
    finally:
        await installation.close()
        server.shutdown()
        server.server_close()


async def test_an_unreachable_witness_does_not_stop_checkpoints_and_verify_names_what_it_lacks(
        installation: Installation) -> None:
    """docs/governance.md: a witness that cannot be written is logged, the checkpoint is still
    stored, and verify then names each checkpoint the witness lacks."""
    svc = installation.services
    s = await scene(svc)
    path = installation.settings.audit_witness
    away = path.with_name("ailleurs.log")
    path.rename(away)  # the witness volume is gone for a while
    await say(svc, s.nurse, s.care, "pendant la panne")
    made = await audit_trail.checkpoint_all(svc)
    assert any(cp.chain == s.org.id for cp in made)
    assert not path.exists()  # never recreated by the server
    away.rename(path)
    code, out = _verify(installation)
    assert code == 1
    assert f"chain {s.org.id}: the checkpoint at entry #" in out and "is not in the witness" in out
