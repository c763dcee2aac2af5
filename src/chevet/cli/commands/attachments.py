"""``chevet attachments``: the operator's view of stored files, and their housekeeping."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from chevet.app.attachments import upkeep
from chevet.app.governance import sobriety
from chevet.cli.support import DataDir
from chevet.cli.support import run as _run
from chevet.cli.support import settings_for as _settings

NAME = "attachments"
app = typer.Typer(help="Attachments: storage per organisation, unsent uploads, orphaned files.",
                  no_args_is_help=True)


@app.command("usage")
def usage(data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stored attachment bytes per organisation (sealed size on disk)."""
    rows = _run(lambda i: sobriety.installation_usage(i.services), _settings(data_dir))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['organisation']}\t{row['attachment_bytes']}")


@app.command("purge-pending")
def purge_pending(data_dir: DataDir = None) -> None:
    """Remove uploads never sent with a message within ``pending_attachment_hours``."""
    count = _run(lambda i: upkeep.purge_pending(i.services), _settings(data_dir))
    typer.echo(f"{count} unsent upload(s) removed")


@app.command("orphans")
def orphans(data_dir: DataDir = None, delete: Annotated[bool, typer.Option("--delete")] = False,
            older_than_hours: Annotated[float, typer.Option(min=0.1)] = 1.0) -> None:
    """List (or delete) sealed files that no attachment references any more."""
    found = _run(lambda i: upkeep.orphans(i.services, delete=delete, older_than_hours=older_than_hours),
                 _settings(data_dir))
    for key in found:
        typer.echo(key)
    typer.echo(f"{len(found)} orphaned file(s){' deleted' if delete else ''}", err=True)


