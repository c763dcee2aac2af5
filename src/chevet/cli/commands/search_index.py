"""``chevet search …``: the re-indexing of older messages for search by word beginnings (the
server does it by itself in the background; this shows where it is, or does it now)."""

from __future__ import annotations

from typing import Annotated

import typer

from chevet.app.messaging import search_index
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, echo_json, run, settings_for

NAME = "search"
app = typer.Typer(help="Search: re-indexing of older messages.", no_args_is_help=True)


@app.command("reindex")
def reindex(batches: Annotated[int | None, typer.Option("--batches", min=1,
                                                        help="Stop after this many batches")] = None,
            batch: Annotated[int, typer.Option("--batch", min=1, max=5000,
                                               help="Messages per transaction")] = search_index.BATCH,
            data_dir: DataDir = None) -> None:
    """Give older messages the terms of word beginnings now; print how many were done and how
    many are left (it can be stopped and run again: it goes on where it was)."""
    async def go(i: Installation) -> dict[str, int]:
        done = await search_index.reindex(i.services, batch=batch, max_batches=batches)
        return {"messages": done.messages, "left": done.left}

    echo_json(run(go, settings_for(data_dir)))


@app.command("status")
def status(data_dir: DataDir = None) -> None:
    """How many older messages still wait for the terms of word beginnings."""
    async def go(i: Installation) -> dict[str, int]:
        return {"left": await search_index.left(i.services)}

    echo_json(run(go, settings_for(data_dir)))
