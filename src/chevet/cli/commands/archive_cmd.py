"""``chevet archive extract FILE --to DIR``: decrypt and unpack any Chevet archive (organisation
export or subject access export) to read it with ordinary tools."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Annotated

import typer

from chevet.cli.support import fail, identity_from, passphrase
from chevet.core.errors import ChevetError
from chevet.core.sealed_archive import decrypt_chunks
from chevet.web.i18n import gettext

NAME = "archive"
app = typer.Typer(help="Open Chevet archives.", no_args_is_help=True)


@app.command("extract")
def extract(file: Path, to: Annotated[Path, typer.Option(help="Empty or new folder")],
            identity: Annotated[Path | None, typer.Option(help="X25519 private key (PEM)")] = None) -> None:
    """Decrypt (checking every chunk) and unpack, refusing paths outside the folder."""
    key = identity_from(identity)
    secret = None if key is not None else passphrase(confirm=False)
    buf = io.BytesIO()
    try:
        with file.open("rb") as fh:
            for chunk in decrypt_chunks(fh, passphrase=secret, identity=key):
                buf.write(chunk)
    except OSError as exc:
        raise fail(str(exc), 2) from exc
    except ChevetError as exc:
        raise fail(gettext(exc.code, "en", **exc.params)) from exc
    if to.exists() and any(to.iterdir()):
        raise fail(f"{to} is not empty", 2)
    to.mkdir(parents=True, exist_ok=True, mode=0o700)
    buf.seek(0)
    count = 0
    with tarfile.open(fileobj=buf, mode="r:gz") as tar:
        for member in tar:
            target = (to / member.name).resolve()
            if not (member.isfile() or member.isdir()) or not target.is_relative_to(to.resolve()):
                raise fail(f"refused entry {member.name!r}")  # links, devices, paths outside the folder
            if member.isdir():  # a backup's files folder is there even when empty
                target.mkdir(parents=True, exist_ok=True, mode=0o700)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            assert src is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(src.read())
            count += 1
    typer.echo(f"{count} files extracted to {to}")
