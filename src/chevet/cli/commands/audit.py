"""``chevet audit …``: verify the trail and its signed checkpoints, sign a checkpoint now,
export JSON Lines for an auditor, verify such an export offline, prune past retention."""

from __future__ import annotations

import base64
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import orjson
import typer
from cryptography import x509

from chevet.app.governance import audit, audit_trail, receipts, witnessing
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, echo_json, fail, parse_time, run, settings_for
from chevet.core import receipt
from chevet.core.audit import AuditEntry, ChainBreak
from chevet.core.checkpoint import ChainVerdict, Checkpoint, signature_valid, verify_chain_with_checkpoints

NAME = "audit"
app = typer.Typer(help="The audit trail: verify, checkpoint, export.", no_args_is_help=True)


_BREAK_SAYS = {
    "missing": "this entry is missing from the middle of the chain",
    "out_of_order": "entries are out of order",
    "altered": "this entry was altered",
    "truncated": "the chain ends before its recorded head or a signed checkpoint: its tail was cut",
    "head_mismatch": "the recorded head does not match the last entry: the head was moved",
    "head_missing": "the chain's head record is gone (its next entry could not be written)",
    "checkpoint_signature_invalid": "a checkpoint is not signed by the audit key",
    "anchor_without_checkpoint": "the chain starts after a pruning point that no signed checkpoint backs",
    "rewritten_since_checkpoint": "an entry differs from the one a signed checkpoint holds: the chain was rewritten",
}


def _print(verdicts: list[ChainVerdict]) -> bool:
    broken = False
    for v in verdicts:
        if v.broken:
            broken = True
            typer.echo(f"chain {v.chain}: BROKEN at entry #{v.broken.seq} ({v.broken.reason}) — "
                       f"{_BREAK_SAYS.get(v.broken.reason, v.broken.reason)}")
        else:
            typer.echo(f"chain {v.chain}: ok ({v.entries} entries #{v.first_seq}–#{v.last_seq}, "
                       f"{v.checkpoints} signed checkpoints)")
    return broken


def _public_key(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise fail(f"{path}: expected the base64 public key printed by `chevet audit public-key`", 2) from exc


_WITNESS_SAYS = {
    "witness_absent": "witness: MISSING — there is no witness file (start one with `chevet init`, or give "
                      "--witness): cut tails and erased chains cannot be detected without it",
    "witness_empty": "witness: EMPTY — the witness file holds no record",
    "witness_line_unreadable": "witness: line {n} is not a witness record",
    "witness_start_cut": "witness: CUT at its start — its first record is #{n}, not the opening record",
    "witness_lines_missing": "witness: CUT — records are missing before record #{n} (lines removed or reordered)",
    "witness_signature_invalid": "witness: record #{n} is not signed by the audit key (forged or altered)",
    "witness_checkpoint_invalid": "witness: record #{n} holds a checkpoint not signed by the audit key",
}
_TRAIL_SAYS = {
    "witnessed_chain_missing": "chain {chain}: ERASED — the witness holds its checkpoint at entry #{seq}, the "
                               "database has no such chain",
    "shorter_than_witnessed": "chain {chain}: CUT — the witness holds its checkpoint at entry #{seq}, the "
                              "database goes only to #{found}: entries #{after}–#{seq} at least were removed",
    "rewritten_since_witnessed": "chain {chain}: REWRITTEN — entry #{seq} is not the one the witness holds",
    "organisation_without_chain": "organisation {chain}: NO CHAIN — the organisation exists but its audit "
                                  "chain is gone",
    "checkpoint_erased": "chain {chain}: the signed checkpoint at entry #{seq} that the witness holds was ERASED "
                         "from the database",
    "checkpoint_not_witnessed": "chain {chain}: the checkpoint at entry #{seq} is not in the witness — the "
                                "witness lost its end, or was unreachable when it was signed (see the server log)",
}
_RECEIPT_SAYS = {
    "receipt_chain_missing": "receipt: chain {chain} is GONE — the receipt holds it up to entry #{seq}",
    "receipt_chain_shorter": "receipt: chain {chain} is CUT — the receipt holds it up to entry #{seq}, the "
                             "database goes only to #{found}",
    "receipt_entry_rewritten": "receipt: chain {chain} is REWRITTEN — entry #{seq} is not the one the receipt holds",
}
_RECEIPT_UNREADABLE = {
    "too_large": "is too large to be a receipt",
    "not_a_receipt": "is not a Chevet audit receipt, or was edited",
    "signature_invalid": "is not signed by the audit key (forged or edited)",
    "checkpoint_signature_invalid": "holds a checkpoint not signed by the audit key",
}


def _print_report(report: witnessing.TrailReport, witness_name: str) -> None:
    _print(report.chains)
    for w in report.witness:
        typer.echo(_WITNESS_SAYS[w.problem].format(n=w.record))
    erased: dict[UUID, list[int]] = {}
    for f in report.missing:
        if f.problem == "checkpoint_erased":
            erased.setdefault(f.chain, []).append(f.seq)
        else:
            typer.echo(_TRAIL_SAYS[f.problem].format(chain=f.chain, seq=f.seq, found=f.found_seq,
                                                     after=f.found_seq + 1))
    for chain, seqs in erased.items():
        typer.echo(_TRAIL_SAYS["checkpoint_erased"].format(chain=chain, seq=seqs[0]) if len(seqs) == 1 else
                   f"chain {chain}: {len(seqs)} signed checkpoints that the witness holds were ERASED from the "
                   f"database (at entries #{seqs[0]} to #{seqs[-1]})")
    for t in report.timestamps_bad:
        typer.echo(f"witness: record #{t.record}: its time-stamp is INVALID ({t.reason})")
    if not report.witness:
        stamps = f", {report.timestamps_checked} time-stamps checked" if report.timestamps_checked else ""
        unchecked = (f", {report.timestamps_unchecked} time-stamps not checked (no tsa_ca_file)"
                     if report.timestamps_unchecked else "")
        typer.echo(f"witness {witness_name}: ok ({report.witness_records} records{stamps}{unchecked})")


def _read_receipt(path: Path, key: bytes | None) -> receipt.Receipt:
    try:
        return receipt.decode(path.read_bytes(), key)
    except OSError as exc:
        raise fail(f"{path}: cannot be read ({exc.strerror})", 2) from exc
    except receipt.ReceiptUnreadable as exc:
        raise fail(f"receipt {path}: {_RECEIPT_UNREADABLE[str(exc)]}", 1) from exc


@app.command("verify")
def verify(data_dir: DataDir = None,
           public_key: Annotated[Path | None, typer.Option(help="Your own copy of the audit public key "
                                                                "(base64); default: the installation's")] = None,
           witness: Annotated[Path | None, typer.Option(help="A copy of the witness to check against "
                                                             "(default: the installation's witness file)")] = None,
           receipt_file: Annotated[Path | None, typer.Option("--receipt", help="A receipt downloaded from the "
                                                             "console: prove the trail still holds it")] = None,
           ) -> None:
    """Check every chain entry by entry, its recorded head and its signed checkpoints, then the
    witness and what the database holds against it (cut tails, erased chains, an organisation
    without its chain), and a receipt if given. Exit code 1 if anything is broken."""
    key = _public_key(public_key)
    settings = settings_for(data_dir)
    lines = None
    if witness is not None:
        try:
            lines = witness.read_bytes().splitlines()
        except OSError as exc:
            raise fail(f"{witness}: cannot be read ({exc.strerror})", 2) from exc
    kept = _read_receipt(receipt_file, key) if receipt_file is not None else None
    anchors = _tsa_anchors(settings.audit.tsa_ca_file)

    async def go(i: Installation) -> tuple[witnessing.TrailReport, list[receipts.ReceiptFinding]]:
        report = await witnessing.verify_trail(i.services, public_key=key, witness_lines=lines, tsa_anchors=anchors)
        return report, (await receipts.check(i.services, kept) if kept is not None else [])

    report, held = run(go, settings)
    _print_report(report, str(witness or settings.audit_witness))
    for r in held:
        if r.problem is not None:
            typer.echo(_RECEIPT_SAYS[r.problem].format(chain=r.chain, seq=r.seq, found=r.found_seq))
        elif r.pruned_past:
            typer.echo(f"receipt: chain {r.chain} up to entry #{r.seq}: pruned since by retention at a signed "
                       "checkpoint past it (the entries are gone lawfully; their place is kept)")
        else:
            typer.echo(f"receipt: chain {r.chain} holds every entry up to #{r.seq}, unchanged")
    raise typer.Exit(1 if report.broken or any(r.problem for r in held) else 0)


def _tsa_anchors(path: Path | None) -> list[x509.Certificate] | None:
    if path is None:
        return None
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise fail(f"tsa_ca_file {path}: expected PEM certificates", 2) from exc


@app.command("checkpoint")
def checkpoint(data_dir: DataDir = None) -> None:
    """Sign the current head of every chain now (the server does it periodically)."""
    made = run(lambda i: audit_trail.checkpoint_all(i.services), settings_for(data_dir))
    for cp in made:
        typer.echo(f"chain {cp.chain}: checkpoint at #{cp.seq}")
    if not made:
        typer.echo("no chain moved since its last checkpoint")


@app.command("public-key")
def public_key_cmd(data_dir: DataDir = None) -> None:
    """Print the installation's audit public key (base64, Ed25519): give it to your auditor."""
    async def go(i: Installation) -> str | None:
        key = audit_trail.public_key_b64(i.services)
        if key is not None:
            await audit.record_installation_act(i.services, "key.audit_public_key_exported")
        return key

    key = run(go, settings_for(data_dir))
    if key is None:
        raise fail("no audit key: run `chevet init`")
    typer.echo(key)


@app.command("export")
def export(from_: Annotated[str | None, typer.Option("--from", help="Start date (UTC), included")] = None,
           to: Annotated[str | None, typer.Option("--to", help="End date (UTC), excluded")] = None,
           org: Annotated[str | None, typer.Option(help="Only this organisation's chain (slug)")] = None,
           out: Annotated[Path | None, typer.Option(help="File to write (default: standard output)")] = None,
           data_dir: DataDir = None) -> None:
    """Write the audit trail as JSON Lines: a header with the public key, entries (each with the
    previous hash), and the signed checkpoints."""
    since, until = parse_time(from_, "--from"), parse_time(to, "--to")

    async def go(i: Installation) -> int:
        org_id = (await organisation_by_slug(i.services, org)).id if org else None
        sink = out.open("wb") if out else sys.stdout.buffer
        count = 0
        try:
            async for line in audit_trail.export_lines(i.services, since=since, until=until, org_id=org_id):
                sink.write(line)
                count += 1
        finally:
            if out:
                sink.close()
            else:
                sink.flush()
        return count

    count = run(go, settings_for(data_dir))
    typer.echo(f"{count} lines written", err=True)


@app.command("verify-export")
def verify_export(file: Path, public_key: Annotated[Path | None, typer.Option(
        help="Your own copy of the public key (default: the one in the export's header)")] = None) -> None:
    """Check an audit export offline, without any installation: hashes, links between entries,
    checkpoint signatures."""
    key = _public_key(public_key)
    entries: dict[str, list[AuditEntry]] = {}
    prevs: dict[str, bytes] = {}
    checkpoints: dict[str, list[Checkpoint]] = {}
    try:
        for raw in file.read_bytes().splitlines():
            rec = orjson.loads(raw)
            at = datetime.fromtimestamp(rec.get("at_us", 0) / 1_000_000, tz=UTC)
            if rec["type"] == "header":
                if key is None and rec.get("public_key_ed25519"):
                    key = base64.b64decode(rec["public_key_ed25519"])
            elif rec["type"] == "entry":
                chain = rec["chain"]
                e = AuditEntry(UUID(chain), rec["seq"], at, rec["action"],
                               UUID(rec["actor_id"]) if rec["actor_id"] else None, rec["object_type"],
                               UUID(rec["object_id"]) if rec["object_id"] else None, rec["ip"], rec["detail"],
                               bytes.fromhex(rec["hash"]))
                entries.setdefault(chain, []).append(e)
                prevs.setdefault(chain, bytes.fromhex(rec["prev_hash"]))
            elif rec["type"] == "checkpoint":
                checkpoints.setdefault(rec["chain"], []).append(Checkpoint(
                    UUID(rec["chain"]), rec["seq"], bytes.fromhex(rec["head_hash"]), at, rec["key_id"],
                    base64.b64decode(rec["signature"])))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise fail(f"{file}: not a Chevet audit export ({type(exc).__name__})", 2) from exc
    broken = False
    for chain in sorted(set(entries) | set(checkpoints)):
        es = entries.get(chain, [])
        start = (es[0].seq - 1, prevs[chain]) if es else (0, b"\x00" * 32)
        last = es[-1].seq if es else 0
        # Checkpoints of the period that point inside the exported entries must match them.
        inside = [cp for cp in checkpoints.get(chain, []) if start[0] < cp.seq <= last]
        outside = [cp for cp in checkpoints.get(chain, []) if cp not in inside]
        verdict = verify_chain_with_checkpoints(UUID(chain), es, None, inside, key, start=start)
        problem = verdict.broken or next(
            (ChainBreak(UUID(chain), cp.seq, "checkpoint_signature_invalid") for cp in outside
             if key is None or not signature_valid(key, cp)), None)
        if problem:
            broken = True
            typer.echo(f"chain {chain}: BROKEN at entry #{problem.seq} ({problem.reason})")
        else:
            typer.echo(f"chain {chain}: ok ({len(es)} entries, {len(inside)} checkpoints matched)")
    raise typer.Exit(1 if broken else 0)


@app.command("prune")
def prune(as_of: Annotated[str | None, typer.Option("--as-of")] = None,
          dry_run: Annotated[bool, typer.Option("--dry-run")] = False, data_dir: DataDir = None) -> None:
    """Delete audit entries older than `audit_retention_days` (at least 183), cutting each chain at
    a signed checkpoint that becomes its new anchor."""
    when = parse_time(as_of, "--as-of")
    reports = run(lambda i: audit_trail.prune(i.services, when, dry_run=dry_run), settings_for(data_dir))
    echo_json([{"chain": r.chain, "up_to_seq": r.up_to_seq, "removed": r.removed} for r in reports])
