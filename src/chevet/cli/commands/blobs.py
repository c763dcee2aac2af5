"""``chevet blobs``: where sealed files are kept, and moving them to an S3 object store."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import typer

from chevet.app.attachments.blob_migration import MigrationReport, Outcome, migrate
from chevet.app.governance import audit
from chevet.bootstrap import Installation, blob_stores_for_migration
from chevet.cli.support import DataDir, fail, progress
from chevet.cli.support import run as _run
from chevet.cli.support import settings_for as _settings
from chevet.core.errors import ChevetError
from chevet.ports import DependencyUnavailable
from chevet.settings import SettingsError

NAME = "blobs"
app = typer.Typer(help="Sealed files: the store they live in (a folder or an S3 object store).",
                  no_args_is_help=True)


@app.command("migrate")
def migrate_command(to: Annotated[Literal["s3"], typer.Option("--to", help="target store")],
                    data_dir: DataDir = None) -> None:
    """Copy every sealed file of the folder store into the object store named in [blobs], each one
    verified by reading it back. Interrupted, run it again: it goes on where it stopped. The folder
    is left as it is; set [blobs] backend = "s3" once a run reports nothing left to copy."""
    settings = _settings(data_dir)
    try:
        source, target = blob_stores_for_migration(settings)
    except SettingsError as exc:
        raise fail(str(exc), 2) from exc

    async def go() -> MigrationReport:
        await target.ensure_bucket()

        def advance(done: int, total: int, outcome: Outcome) -> None:
            progress("sealed files", done, total)   # the CLI's one progress line, as for key rotation

        return await migrate(source, target, advance)

    try:
        report = asyncio.run(go())
    except DependencyUnavailable as exc:
        raise fail("the object store cannot be reached (endpoint, keys, bucket?)", 1) from exc
    except ChevetError as exc:
        raise fail(exc.code) from exc
    finally:
        target.close()

    async def record(i: Installation) -> None:
        await audit.record_installation_act(i.services, "blobs.migrated", to=to,
                                            copied=report.copied, already_there=report.already_there,
                                            vanished=report.vanished, mismatched=len(report.mismatched),
                                            bytes_copied=report.bytes_copied)

    _run(record, settings)
    typer.echo(f"{report.total} file(s): {report.copied} copied ({report.bytes_copied} bytes), "
               f"{report.already_there} already there, {report.vanished} deleted meanwhile, "
               f"{len(report.mismatched)} not verified")
    if not report.complete:
        typer.echo("run the migration again: some files were not verified", err=True)
        raise typer.Exit(1)
    typer.echo(f'nothing left to copy: set [blobs] backend = "{to}" and restart')
