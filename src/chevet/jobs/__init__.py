"""Background work run by the server or on demand from the CLI.

Each module here may define ``async def periodic(installation)``: the server starts it with the
application and cancels it at shutdown. It loops on its own schedule and never raises."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from typing import Any


def start_all(installation: Any) -> list[asyncio.Task[None]]:
    tasks = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        periodic = getattr(module, "periodic", None)
        if periodic is not None:
            tasks.append(asyncio.create_task(periodic(installation), name=f"job:{info.name}"))
    return tasks
