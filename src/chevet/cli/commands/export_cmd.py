"""``chevet export --org SLUG --out FILE``: the organisation's complete encrypted archive."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from chevet.app.archive import archive
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, fail, progress, run, sealing, settings_for

NAME = "export"
app = typer.Typer(help="Export an organisation (reversibility).", invoke_without_command=True)


@app.callback()
def export(org: Annotated[str, typer.Option(help="Organisation slug")],
           out: Annotated[Path, typer.Option(help="Archive file to create")],
           recipient: Annotated[Path | None, typer.Option(
               help="Encrypt for this X25519 public key (PEM) instead of a passphrase")] = None,
           data_dir: DataDir = None) -> None:
    """Write everything of one organisation, decrypted, into an archive encrypted with a
    passphrase (asked, or CHEVET_EXPORT_PASSPHRASE) or for a recipient key. See
    docs/governance.md for its content and format."""
    if out.exists():
        raise fail(f"{out} exists: choose a new file name", 2)
    header, key = sealing(recipient)
    settings = settings_for(data_dir)

    async def go(i: Installation) -> dict[str, int]:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                return await archive.export_organisation(i.services, org, fh, header, key, progress=progress)
        except BaseException:
            out.unlink(missing_ok=True)
            raise

    counts = run(go, settings)
    typer.echo(f"exported {counts['people']} people, {counts['conversations']} conversations, "
               f"{counts['entries']} log entries to {out}", err=True)
