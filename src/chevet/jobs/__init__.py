"""Background work run by the server or on demand from the CLI.

Each module here may define ``async def periodic(installation)``: the server starts it with the
application and cancels it at shutdown. It loops on its own schedule and never raises.

The MSSanté gateway is started apart (``start_gateway``): it has its own configuration, and runs
in the server only when its events can reach nobody otherwise (``runs_in_server``)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chevet.bootstrap import Installation
    from chevet.bootstrap.mssante import GatewayRuntime
    from chevet.jobs.mssante import GatewayTasks


def start_all(installation: Any) -> list[asyncio.Task[None]]:
    tasks = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        periodic = getattr(module, "periodic", None)
        if periodic is not None:
            tasks.append(asyncio.create_task(periodic(installation), name=f"job:{info.name}"))
    return tasks


async def start_gateway(installation: Installation, runtime: GatewayRuntime | None) -> GatewayTasks | None:
    """The MSSanté gateway's supervised tasks, when this server is where it runs."""
    if runtime is None or not runtime.in_server:
        return None
    from chevet.jobs.mssante import GatewayTasks

    gateway = GatewayTasks(installation, runtime)
    await gateway.start()
    return gateway


async def final_checkpoint(installation: Installation) -> None:
    """At shutdown, the audit checkpoint of what moved since the last periodic one."""
    from chevet.jobs.governance import final_checkpoint as take

    await take(installation)
