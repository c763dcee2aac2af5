"""``chevet gdpr …``: subject access export, anonymisation, processing register."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import orjson
import typer

from chevet.app.governance import gdpr
from chevet.app.identity import people
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, echo_json, fail, run, sealing, settings_for

NAME = "gdpr"
app = typer.Typer(help="People's rights and the processing register.", no_args_is_help=True)


@app.command("access")
def access(org: Annotated[str, typer.Option(help="Organisation slug")],
           email: Annotated[str, typer.Option(help="The person's e-mail")],
           out: Annotated[Path, typer.Option(help="Archive to create")],
           recipient: Annotated[Path | None, typer.Option(help="X25519 public key (PEM)")] = None,
           data_dir: DataDir = None) -> None:
    """Art. 15: everything about one person in a readable, encrypted archive (index.html + JSON)."""
    if out.exists():
        raise fail(f"{out} exists", 2)
    header, key = sealing(recipient)

    async def go(i: Installation) -> dict[str, int]:
        o = await organisation_by_slug(i.services, org)
        pid = await people.person_id_by_email(i.services, o.id, email)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                return await gdpr.subject_access(i.services, o, pid, fh, header, key)
        except BaseException:
            out.unlink(missing_ok=True)
            raise

    echo_json(run(go, settings_for(data_dir)))


@app.command("anonymise")
def anonymise(org: Annotated[str, typer.Option(help="Organisation slug")],
              email: Annotated[str, typer.Option(help="The departed person's e-mail")],
              data_dir: DataDir = None) -> None:
    """Remove a deactivated person's identity; their messages stay for the team under a pseudonym."""
    async def go(i: Installation) -> str:
        o = await organisation_by_slug(i.services, org)
        person_id = await people.person_id_by_email(i.services, o.id, email)
        return await gdpr.anonymise(i.services, None, o, person_id)

    typer.echo(f"anonymised: now shown as {run(go, settings_for(data_dir))!r}")


@app.command("register")
def register(org: Annotated[str, typer.Option(help="Organisation slug")],
             html: Annotated[Path | None, typer.Option(help="Write the HTML register here")] = None,
             data_dir: DataDir = None) -> None:
    """Art. 30: the processing register generated from the configuration (JSON on stdout)."""
    async def go(i: Installation) -> gdpr.RegisterView:
        return await gdpr.processing_register(i.services, None, await organisation_by_slug(i.services, org))

    reg = run(go, settings_for(data_dir))
    if html is not None:
        html.write_text(gdpr.register_html(reg))
    typer.echo(orjson.dumps(reg, option=orjson.OPT_INDENT_2).decode())
