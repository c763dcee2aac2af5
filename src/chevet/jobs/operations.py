"""The runner of the console's operations (export, import, backup): started with the server's
other loops, it claims one due operation at a time with a lease, renews the lease every
``HEARTBEAT`` seconds while recording progress, and calls the same code as ``chevet export``,
``chevet import`` and ``chevet backup``. A runner that stops (restart, crash) stops renewing: once
the lease has run out another runner takes the operation up again from the start, and after
``MAX_ATTEMPTS`` it is failed with a reason in words — never left "running".

Produced files go to ``<data folder>/operations/`` (0600), encrypted with the passphrase the
person gave; they are deleted when the operation expires (``core.operation.KEEP_RESULT``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from chevet.app.archive import archive
from chevet.app.governance import audit
from chevet.app.governance import operations as ops
from chevet.bootstrap import BackupError, Installation, backup_database
from chevet.bootstrap.operation_files import input_path, operations_folder
from chevet.core.errors import ChevetError
from chevet.core.operation import Operation, OperationKind
from chevet.core.sealed_archive import SealedWriter, passphrase_header
from chevet.ports import DependencyUnavailable

log = logging.getLogger("chevet.jobs")
HEARTBEAT = 1.0      # seconds between lease renewals (and progress records)
POLL = 2.0           # seconds between looks for a queued operation
SCALE = 1000         # progress is recorded as a fraction of this
STAGES: dict[OperationKind, dict[str, tuple[float, float]]] = {
    # stage name of the code's progress callback -> (start, end) of the bar
    OperationKind.EXPORT: {"conversations": (0.0, 0.9), "sealing": (0.9, 1.0)},
    OperationKind.IMPORT: {"decrypting": (0.0, 0.3), "conversations": (0.3, 0.5), "entries": (0.5, 1.0)},
    OperationKind.BACKUP: {"database": (0.0, 0.3), "files": (0.3, 1.0)},
}


def folder(installation: Installation) -> Path:
    return operations_folder(installation.settings)


@dataclass
class Tracker:
    """The progress callback of the export/import/backup code, turned into one rising figure."""

    kind: OperationKind
    done: int = 0
    seen: list[int] = field(default_factory=list)

    def __call__(self, stage: str, done: int, total: int) -> None:
        start, end = STAGES[self.kind].get(stage, (0.0, 0.0))
        fraction = start + (end - start) * (done / total if total else 0.5)
        value = max(self.done, min(SCALE, int(fraction * SCALE)))  # never goes back
        if value != self.done:
            self.done = value
            self.seen.append(value)


def _private(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


async def _export(installation: Installation, claimed: ops.Claimed, out: Path, progress: Tracker) -> None:
    assert claimed.passphrase is not None
    header, key = passphrase_header(claimed.passphrase)
    with os.fdopen(_private(out), "wb") as fh:
        await archive.export_organisation(installation.services, claimed.org_slug, fh, header, key,
                                          operator="console", progress=progress)
    progress("sealing", 1, 1)


async def _import(installation: Installation, claimed: ops.Claimed, src: Path, progress: Tracker) -> None:
    data = await asyncio.to_thread(src.read_bytes)
    digest = sha256(data).hexdigest()
    with src.open("rb") as fh:
        files = await asyncio.to_thread(archive.read_archive, fh, passphrase=claimed.passphrase, progress=progress)
    await archive.import_organisation(installation.services, files, archive_sha256=digest, operator="console",
                                      progress=progress)


def _backup_files(installation: Installation, out: Path, passphrase: str, progress: Callable[[str, int, int], None],
                  work: Path, stamp: str) -> None:
    """The database (without data keys) and the sealed files, in one tar sealed with the passphrase,
    laid out as `chevet backup` writes its folder (``chevet-db-<time>.*`` beside
    ``chevet-blobs-<time>/``), so that once extracted `chevet restore --db` finds the files itself."""
    settings = installation.settings
    suffix = "sqlite" if settings.database_in_use.startswith("sqlite") else "pgdump"
    db_file = work / f"chevet-db-{stamp}.{suffix}"
    backup_database(settings, db_file)
    progress("database", 1, 1)
    blobs = settings.blobs_path
    paths = sorted(p for p in blobs.rglob("*") if p.is_file()) if blobs.is_dir() else []
    header, key = passphrase_header(passphrase)
    with os.fdopen(_private(out), "wb") as fh:
        writer = SealedWriter(fh, header, key)
        with tarfile.open(fileobj=writer, mode="w|gz") as tar:  # type: ignore[call-overload]
            tar.add(db_file, arcname=db_file.name)
            folder_entry = tarfile.TarInfo(f"chevet-blobs-{stamp}")  # there even for an organisation without files
            folder_entry.type, folder_entry.mode = tarfile.DIRTYPE, 0o700
            tar.addfile(folder_entry)
            for n, path in enumerate(paths, 1):
                tar.add(path, arcname=f"chevet-blobs-{stamp}/{path.relative_to(blobs)}")
                progress("files", n, len(paths))
        writer.close()
    progress("files", 1, 1)


async def _backup(installation: Installation, claimed: ops.Claimed, out: Path, progress: Tracker) -> None:
    assert claimed.passphrase is not None
    work = out.with_suffix(".work")
    work.mkdir(mode=0o700, exist_ok=True)
    try:
        stamp = claimed.operation.created_at.strftime("%Y%m%dT%H%M%SZ")
        await asyncio.to_thread(_backup_files, installation, out, claimed.passphrase, progress, work, stamp)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    await audit.record_installation_act(installation.services, "backup.created", database="console",
                                        organisation=str(claimed.operation.org_id))


async def _work(installation: Installation, claimed: ops.Claimed, progress: Tracker) -> tuple[str | None, int | None]:
    op = claimed.operation
    base = folder(installation)
    if op.kind is OperationKind.IMPORT:
        src = input_path(installation.settings, op.id)
        try:
            await _import(installation, claimed, src, progress)
        finally:
            src.unlink(missing_ok=True)
        return None, None
    part = base / f"{op.id}.{op.attempts}.part"
    try:
        await (_export if op.kind is OperationKind.EXPORT else _backup)(installation, claimed, part, progress)
        name = f"{op.id}.chevet"
        os.replace(part, base / name)
        return name, (base / name).stat().st_size
    finally:
        part.unlink(missing_ok=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ChevetError):
        return exc.code
    if isinstance(exc, BackupError):
        return exc.code
    if isinstance(exc, DependencyUnavailable):
        return "operation_dependency_unavailable"
    if isinstance(exc, OSError):
        return "operation_disk"
    return "operation_failed"


async def run(installation: Installation, claimed: ops.Claimed) -> None:
    """Run one claimed operation to its end, renewing its lease; stop if the lease is lost."""
    services, op = installation.services, claimed.operation
    progress = Tracker(op.kind)
    task = asyncio.create_task(_work(installation, claimed, progress))
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT)
        if done:
            break
        try:
            still_ours = await ops.renew(services, op, progress.done, SCALE)
        except DependencyUnavailable:
            continue
        if not still_ours:  # another runner took it over: leave it to that one
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            return
    try:
        name, size = task.result()
    except Exception as exc:  # the reason in words for the person; the type only in the log
        log.warning("operation failed", extra={"kind": op.kind.value, "error": type(exc).__name__})
        await ops.fail(services, op, _reason(exc))
        return
    if not await ops.succeed(services, op, name, size, SCALE) and name:
        (folder(installation) / name).unlink(missing_ok=True)


async def run_once(installation: Installation) -> Operation | None:
    """Claim and run the next due operation, if any; returns it."""
    claimed = await ops.claim(installation.services)
    if claimed is None:
        return None
    if claimed.passphrase is not None:
        await run(installation, claimed)
    return claimed.operation


async def sweep(installation: Installation) -> None:
    """Delete the files of operations past their keeping time, and leftovers of dead runners."""
    base = folder(installation)
    for name in await ops.expire(installation.services):
        (base / name).unlink(missing_ok=True)


async def periodic(installation: Installation) -> None:
    await asyncio.sleep(POLL)
    loops = 0
    while True:
        try:
            if loops % 1800 == 0:
                await sweep(installation)
            loops += 1
            while await run_once(installation) is not None:
                pass
            installation.services.metrics.job_succeeded("operations")
        except asyncio.CancelledError:
            raise
        except DependencyUnavailable as exc:
            log.warning("operations postponed", extra={"dependency": exc.dependency})
        except Exception as exc:  # the server stays up; tried again at the next tick
            log.error("operations runner failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(POLL)
