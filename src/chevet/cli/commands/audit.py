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

from chevet.app.governance import audit, audit_trail
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, echo_json, fail, parse_time, run, settings_for
from chevet.core.audit import AuditEntry, ChainBreak
from chevet.core.checkpoint import ChainVerdict, Checkpoint, signature_valid, verify_chain_with_checkpoints

NAME = "audit"
app = typer.Typer(help="The audit trail: verify, checkpoint, export.", no_args_is_help=True)


def _print(verdicts: list[ChainVerdict]) -> bool:
    broken = False
    for v in verdicts:
        if v.broken:
            broken = True
            typer.echo(f"chain {v.chain}: BROKEN at entry #{v.broken.seq} ({v.broken.reason})")
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


@app.command("verify")
def verify(data_dir: DataDir = None,
           public_key: Annotated[Path | None, typer.Option(help="Your own copy of the audit public key "
                                                                "(base64); default: the installation's")] = None
           ) -> None:
    """Check every chain entry by entry, its recorded head and its signed checkpoints (cut
    tails and rewrites since a checkpoint are named). Exit code 1 if anything is broken."""
    key = _public_key(public_key)
    verdicts = run(lambda i: audit_trail.verify_all(i.services, key), settings_for(data_dir))
    raise typer.Exit(1 if _print(verdicts) else 0)


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
