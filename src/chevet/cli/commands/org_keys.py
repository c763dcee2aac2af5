"""``chevet org key status|rotate`` and ``chevet org shred``: an organisation's own key — where
it is held, its rotation and its migration between the key file and a token, and its
destruction when the organisation leaves (docs/keys.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from chevet.app.governance import audit
from chevet.app.governance import organisation_key_rotation as rotation
from chevet.app.governance import organisation_shred as shredding
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import BackupError, Installation, write_key_backup
from chevet.cli.support import DataDir, fail, progress, run, settings_for
from chevet.ports.organisation_keys import OrganisationKeyUnavailable
from chevet.web.i18n import gettext

PARENT = "org"  # these commands join ``chevet org`` (cli/main.py)
app = typer.Typer()
key_app = typer.Typer(help="An organisation's own key: where it is held, rotation, migration.",
                      no_args_is_help=True)
app.add_typer(key_app, name="key")

Slug = Annotated[str, typer.Argument(help="Organisation slug")]
UNAVAILABLE = ("error: the key provider of this organisation does not answer (token absent, PIN refused or "
               "missing, HSM unreachable). Nothing was lost; run the command again once it is back.")


def _unavailable() -> typer.Exit:
    return fail(UNAVAILABLE, 3)


@key_app.command("status")
def status(slug: Slug, data_dir: DataDir = None) -> None:
    """Each version of the organisation's key: provider, reference, state, how many data keys it
    wraps, and whether its provider answers now."""

    async def go(i: Installation) -> rotation.KeyStatus:
        org = await organisation_by_slug(i.services, slug)
        return await rotation.status(i.services, org.id)

    found = run(go, settings_for(data_dir))
    if not found.versions:
        typer.echo("no key of its own yet: its data keys are wrapped by the installation master key "
                   "(the first conversation or a rotation creates version 1 in the key file)")
    for v in found.versions:
        k = v.key
        where = "file" if k.provider == "file" else f"token {rotation.token_of(k)} ({k.reference})"
        answers = "" if v.available is None else ("; provider answers" if v.available
                                                  else "; PROVIDER UNAVAILABLE")
        destroyed = f", destroyed {k.destroyed_at:%Y-%m-%d %H:%M} UTC" if k.destroyed_at else ""
        typer.echo(f"version {k.version}: {k.state}, {where}, created {k.created_at:%Y-%m-%d %H:%M} UTC{destroyed}; "
                   f"{v.data_keys} data key(s){answers}")
    if found.legacy:
        typer.echo(f"{found.legacy} data key(s) still wrapped by the installation master key "
                   "(chevet org key rotate brings them under the organisation's key)")


@key_app.command("rotate")
def rotate(slug: Slug, data_dir: DataDir = None,
           to: Annotated[str | None, typer.Option("--to", help="file, or token:<name> (a token of the "
                                                  "settings): migrate there; default: rotate where it is")] = None,
           keep_old: Annotated[bool, typer.Option("--keep-old", help="Keep the older versions (marked previous) "
                                                  "instead of destroying them")] = False,
           grace: Annotated[float, typer.Option(help="Seconds to let running servers see the new version")] = 5.0,
           ) -> None:
    """Make a new version of the organisation's key (on the key file or a token) and re-wrap
    every data key of the organisation under it while the servers keep running; verify by
    re-opening content; then destroy the older versions. Interrupted, run it again: it resumes."""
    target = None
    if to is not None:
        try:
            target = rotation.Target.parse(to)
        except Exception as exc:
            raise fail(f"--to: expected file or token:<name>, not {to!r}", 2) from exc

    async def go(i: Installation) -> rotation.RotationReport:
        org = await organisation_by_slug(i.services, slug)
        try:
            return await rotation.rotate(i.services, org.id, target, progress, keep_old=keep_old, grace=grace)
        except OrganisationKeyUnavailable as exc:
            raise _unavailable() from exc

    report = run(go, settings_for(data_dir))
    typer.echo(("resumed: " if report.resumed else "") + f"version {report.version} ({report.target}) is current")
    for name, count in report.rewrapped.items():
        typer.echo(f"{name}: {count} re-wrapped")
    v = report.verification
    typer.echo(f"verified: {v.data_keys} data key(s), {v.messages} message(s) in {v.conversations} "
               f"conversation(s), {v.reports} report(s) re-opened through version {report.version}")
    if report.unopenable:
        typer.echo(f"error: {report.unopenable} data key(s) open with no version (damaged): left as they are; "
                   "older versions kept", err=True)
    if v.failed:
        typer.echo(f"error: {v.failed} item(s) did not open after re-wrapping; older versions kept", err=True)
    if any(report.remaining.values()):
        typer.echo(f"error: data keys remain under older versions: {report.remaining}; run again", err=True)
    if not report.done:
        raise typer.Exit(1)
    if report.kept:
        typer.echo(f"kept (previous): version(s) {', '.join(map(str, report.kept))} (--keep-old)")
    if report.destroyed:
        typer.echo(f"destroyed: version(s) {', '.join(map(str, report.destroyed))}")


def _confirmed(slug: str, confirm: str | None) -> None:
    if confirm is None:
        if not sys.stdin.isatty():
            raise fail(f"give --confirm {slug} (the organisation's slug) to destroy its keys", 2)
        confirm = str(typer.prompt(f"Destroying the keys of {slug} cannot be undone. Type its slug to confirm"))
    if confirm != slug:
        raise fail("the confirmation does not match the organisation's slug: nothing was destroyed", 2)


def _write_out(folder: Path, shredded: shredding.Shredded) -> list[Path]:
    from chevet.core.shred_statement import public_key_pem

    folder.mkdir(parents=True, exist_ok=True)
    files = {"attestation.txt": shredded.statement.encode("utf-8"), "attestation.sig": shredded.signature,
             "cle-audit.pem": public_key_pem(shredded.public_key).encode()}
    written = []
    for name, data in files.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        written.append(path)
    return written


@app.command("shred")
def shred(slug: Slug, data_dir: DataDir = None,
          without_export: Annotated[bool, typer.Option("--without-export", help="Destroy even though the "
                                                       "organisation's archive was never exported")] = False,
          confirm: Annotated[str | None, typer.Option(help="The organisation's slug again (asked when omitted)")]
          = None,
          out: Annotated[Path | None, typer.Option(help="Folder for attestation.txt, attestation.sig and "
                                                   "cle-audit.pem (openssl checks them)")] = None) -> None:
    """The organisation leaves: destroy every version of its key and every data key wrapped for
    it, so that its content in the database, the blob store and every backup can no longer be
    opened; rewrite the key backup when one is configured; print the signed statement for the
    DPO. Export its archive first (chevet export)."""
    _confirmed(slug, confirm)
    if out is not None and any((out / n).exists() for n in ("attestation.txt", "attestation.sig", "cle-audit.pem")):
        raise fail(f"{out} already holds a statement: choose another folder", 2)
    settings = settings_for(data_dir)

    async def go(i: Installation) -> shredding.Shredded:
        target = settings.keys.backup_file

        async def key_backup() -> bool:
            if target is None:
                return False
            try:
                await write_key_backup(i, target)
            except BackupError as exc:
                raise fail(gettext(exc.code, settings.default_language, **exc.params)) from exc
            await audit.record_installation_act(i.services, "key.backup_written", scheduled=False)
            return True

        org = await organisation_by_slug(i.services, slug)
        try:
            return await shredding.shred(i.services, org, without_export=without_export, key_backup=key_backup,
                                         installation=settings.origin)
        except OrganisationKeyUnavailable as exc:
            raise _unavailable() from exc

    shredded = run(go, settings)
    typer.echo(shredded.document, nl=False)
    if out is not None:
        for path in _write_out(out, shredded):
            typer.echo(f"written: {path}", err=True)
