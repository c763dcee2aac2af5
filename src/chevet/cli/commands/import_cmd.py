"""``chevet import FILE``: restore an organisation archive into this installation."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path
from typing import Annotated

import typer

from chevet.app.archive import archive
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, fail, identity_from, passphrase, progress, run, settings_for
from chevet.core.errors import ChevetError
from chevet.web.i18n import gettext

NAME = "import"
app = typer.Typer(help="Import an organisation archive.", invoke_without_command=True,
                  context_settings={"allow_interspersed_args": True})


@app.callback()
def import_(file: Annotated[Path, typer.Argument(help="Archive written by `chevet export`")],
            identity: Annotated[Path | None, typer.Option(
                help="X25519 private key (PEM) if the archive was made for a recipient key")] = None,
            data_dir: DataDir = None) -> None:
    """Verify the whole archive (every chunk, the manifest, every record), then import it in one
    transaction with fresh keys. Nothing is imported if anything is wrong or already present."""
    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    key = identity_from(identity)
    secret = None if key is not None else passphrase(confirm=False)
    digest = sha256(file.read_bytes()).hexdigest()
    try:
        with file.open("rb") as fh:
            files = archive.read_archive(fh, passphrase=secret, identity=key, progress=progress)
    except ChevetError as exc:
        raise fail(gettext(exc.code, "en", **exc.params) + " — nothing was imported") from exc
    typer.echo("", err=True)

    async def go(i: Installation) -> dict[str, int]:
        return await archive.import_organisation(i.services, files, archive_sha256=digest, progress=progress)

    counts = run(go, settings_for(data_dir))
    typer.echo(f"imported {counts['people']} people, {counts['conversations']} conversations, "
               f"{counts['entries']} log entries", err=True)
