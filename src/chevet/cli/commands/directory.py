"""``chevet directory``: the Annuaire Santé MSSanté directory (import, status, search)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from chevet.app.mssante import directory
from chevet.bootstrap import Installation
from chevet.bootstrap.mssante import directory_extraction
from chevet.cli.support import DataDir
from chevet.cli.support import run as _run
from chevet.cli.support import settings_for as _settings
from chevet.core.mssante.directory import split_lines

NAME = "directory"
app = typer.Typer(help="The health directory (Annuaire Santé MSSanté extraction).", no_args_is_help=True)

REASONS = {
    "column_count": "wrong number of columns (31 expected)",
    "address": "mailbox address invalid",
    "mailbox_type": "mailbox type not PER, ORG, APP or CAB",
    "field_invalid": "a field is too long or holds control characters",
    "not_utf8": "not UTF-8",
    "line_too_long": "line too long",
}


@app.command("import")
def import_cmd(file: Annotated[Path, typer.Argument(help="The extraction: .zip or .txt", exists=True,
                                                    dir_okay=False, readable=True)],
               data_dir: DataDir = None) -> None:
    """Replace the directory with FILE. Progress on stderr; counts on stdout."""
    started = time.monotonic()

    def progress(lines: int) -> None:
        sys.stderr.write(f"\r{lines:>9,} lines read".replace(",", " "))
        sys.stderr.flush()

    async def go(i: Installation) -> directory.ImportReport:
        async with directory_extraction(i.settings.data_dir / "tmp", str(file)) as chunks:
            return await directory.import_extraction(i.services, split_lines(chunks), file.name, progress)

    report = _run(go, _settings(data_dir))
    sys.stderr.write("\n")
    typer.echo(f"imported: {report.imported}")
    typer.echo(f"duplicates merged: {report.duplicates_merged}")
    typer.echo(f"rejected: {report.rejected_total}")
    for reason, count in sorted(report.rejected.items()):
        typer.echo(f"  {count:>7}  {REASONS.get(reason, reason)}")
    for line, reason in report.rejected_lines[:10]:
        typer.echo(f"  line {line}: {REASONS.get(reason, reason)}", err=True)
    typer.echo(f"done in {time.monotonic() - started:.1f} s", err=True)


@app.command()
def status(data_dir: DataDir = None) -> None:
    """When the directory was imported, from where, with what counts."""
    info = _run(lambda i: directory.status(i.services), _settings(data_dir))
    if info is None:
        typer.echo("the directory is empty: run `chevet directory import FILE`")
        raise typer.Exit(1)
    for k, v in info.items():
        typer.echo(f"{k}: {v}")


@app.command()
def search(query: Annotated[str, typer.Argument()], data_dir: DataDir = None,
           mailbox_type: Annotated[str | None, typer.Option("--type")] = None) -> None:
    """Search the local copy (no external call)."""
    found = _run(lambda i: directory.search(i.services, None, query, mailbox_type=mailbox_type),
                 _settings(data_dir))
    for e in found:
        typer.echo(f"{e['mailbox_type']}  {e['address']:<45} {e['name']}  {e['profession'] or ''}  {e['town'] or ''}")

