"""``chevet keys``: the master key's status and its rotation without downtime."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from chevet.app.identity import keys as key_actions

NAME = "keys"
app = typer.Typer(help="The installation master key: status and rotation.", no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Installation folder (default: from "
                                              "CHEVET_DATA_DIR or ./chevet-data).")]


@app.command("status")
def status(data_dir: DataDir = None) -> None:
    """Show the key numbers, the current one, and how many blobs each older key still protects."""
    from chevet.cli.support import run as _run
    from chevet.cli.support import settings_for as _settings

    async def go(i: object) -> tuple[int, list[int], dict[int, int]]:
        svc = i.services  # type: ignore[attr-defined]
        return svc.keys.current_key_id(), svc.keys.key_ids(), await key_actions.count_by_key(svc)

    current, ids, remaining = _run(go, _settings(data_dir))
    typer.echo(f"current key: {current}; keys in file: {', '.join(map(str, ids))}")
    for kid, count in sorted(remaining.items()):
        typer.echo(f"key {kid}: {count} blob(s) still wrapped with it")


@app.command("rotate")
def rotate(data_dir: DataDir = None,
           keep_old: Annotated[bool, typer.Option("--keep-old", help="Keep the previous key in the file "
                                                  "(old backups stay readable)")] = False,
           grace: Annotated[float, typer.Option(help="Seconds to let running servers load the new key")] = 5.0,
           ) -> None:
    """Add a new master key, re-wrap every data key and re-seal every credential secret under
    it while the servers keep running, then destroy the old key once nothing depends on it."""
    from chevet.bootstrap import add_master_key, retire_master_keys
    from chevet.cli.support import run as _run
    from chevet.cli.support import settings_for as _settings

    settings = _settings(data_dir)
    try:
        previous, new = add_master_key(settings)
    except Exception as exc:  # SettingsError: key file missing or damaged
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"key {new} is now current (was {previous}); waiting {grace:.0f} s for running servers")
    _run(lambda i: key_actions.audit_key_event(i.services, "keys.key_added", previous=previous, current=new),
         settings)
    time.sleep(max(0.0, grace))
    report = None
    for _ in range(3):
        report = _run(lambda i: key_actions.rewrap_all(i.services), settings)
        if report.done:
            break
        time.sleep(max(1.0, grace))
    assert report is not None
    for name, count in report.rewrapped.items():
        typer.echo(f"{name}: {count} re-wrapped")
    if not report.done:
        typer.echo(f"error: blobs remain under older keys: {report.remaining_by_key}; run again", err=True)
        raise typer.Exit(1)
    if keep_old:
        typer.echo("old key kept in the key file (--keep-old)")
        return
    old = {k for k in report.remaining_by_key if k != new}
    gone = retire_master_keys(settings, old)
    _run(lambda i: key_actions.audit_key_event(i.services, "keys.retired", keys=gone, current=new), settings)
    typer.echo(f"retired key(s): {', '.join(map(str, gone)) or 'none'}")
