"""Instructions per message sent, counted by valgrind (callgrind): a figure that does not depend
on how busy the machine is, unlike CPU seconds.

``./run.sh bench instructions [--sends 200]`` runs a child process under callgrind with
instrumentation off; the child sets up an installation on SQLite (a 20-member conversation)
and sends a few warm-up messages, then waits; instrumentation is switched on, the child sends
``--sends`` messages through the application layer (the same action, transaction, audit entry
and search terms as the API, without HTTP and the stream), and the counts are dumped. SQLite
runs inside the process, so its work is counted too.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench import texts

_PASSWORDS = {"passwords__time_cost": 1, "passwords__memory_kib": 1024}


async def _child(sends: int) -> None:
    from chevet.app.identity import organisations, people
    from chevet.app.messaging import conversations, messages
    from chevet.app.services import Actor
    from chevet.bootstrap import initialise, open_installation
    from chevet.settings import load_settings

    data = Path(tempfile.mkdtemp(prefix="chevet-instr-"))
    try:
        settings = load_settings(data, environ={}, **_PASSWORDS)
        await initialise(settings)
        inst = open_installation(settings, with_bus=False)
        svc = inst.services
        org = await organisations.create_organisation(svc, "instr", "Instructions")
        actors = []
        for i in range(20):
            added = await people.add_person(svc, org, email=f"p{i}@instr.example", name=f"Soignant {i}",
                                            role="nurse", password=uuid.uuid4().hex)
            actors.append(Actor(added.person, org, None, "127.0.0.1"))
        view, _ = await conversations.create_conversation(svc, actors[0], kind="group", title="Transmissions",
                                                          member_ids=[a.id for a in actors[1:]])
        conv = uuid.UUID(view["id"])
        rng = random.Random(11)
        bodies = [texts.message(rng) for _ in range(997)]
        for i in range(20):  # statement caches, pool, first-use imports
            await messages.send_message(svc, actors[i], conv, body=bodies[i], client_id=uuid.uuid4().hex)
        print("READY", flush=True)
        sys.stdin.readline()
        for i in range(sends):
            await messages.send_message(svc, actors[i % 20], conv, body=bodies[i % len(bodies)],
                                        client_id=uuid.uuid4().hex)
        print("DONE", flush=True)
        sys.stdin.readline()
        await inst.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _wait_for(proc: subprocess.Popen[str], word: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == word:
            return
    raise RuntimeError(f"the measured process ended before {word}")


def count(sends: int) -> dict[str, Any]:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind (callgrind) is needed for this figure")
    out = Path(tempfile.mkdtemp(prefix="chevet-callgrind-"))
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p",
         sys.executable, "-m", "bench.instructions", "--child", str(sends)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdin is not None
        _wait_for(proc, "READY")
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        _wait_for(proc, "DONE")
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("end\n")
        proc.stdin.flush()
        proc.wait(timeout=600)
        dump = next(out.glob("cg.*.1"))
        total = 0
        for line in dump.read_text().splitlines():
            if line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
                break
        return {"database": "sqlite", "sends": sends, "instructions": total,
                "instructions_per_message": round(total / sends)}
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--child":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(_child(int(sys.argv[2])))
