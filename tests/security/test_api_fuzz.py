"""Schemathesis over the whole OpenAPI description, against a real `chevet serve` with a signed-in
administrator: no answer ≥ 500 and no answer that contradicts the schema. Bounded in examples
per operation (CHEVET_FUZZ_EXAMPLES, 15 by default) so that it takes a couple of minutes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from chevet.bootstrap import Installation
from tests.support import Server, login, new_installation, new_member, new_org

EXAMPLES = os.environ.get("CHEVET_FUZZ_EXAMPLES", "15")
SEED = os.environ.get("CHEVET_FUZZ_SEED", "")  # to replay a failed run: the seed it printed


async def test_fuzz_the_whole_api(tmp_path: Path) -> None:
    installation: Installation = await new_installation(tmp_path / "fuzz", None)
    org = await new_org(installation.services, "fuzz")
    admin = await new_member(installation.services, org, "admin")
    await new_member(installation.services, org, "nurse")
    # The per-address sign-in limit would answer most generated sign-ins with 429: lift it here.
    server = Server(installation.settings, env={"CHEVET_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP": "10000"})
    try:
        token = login(server.url, admin)
        st = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        done = subprocess.run(
            [st, "run", f"{server.url}/api/openapi.json", "-H", f"Authorization: Bearer {token}",
             "--checks", "not_a_server_error,response_schema_conformance", "--max-examples", EXAMPLES,
             "--exclude-path-regex", "(logout|revoke-all|sessions/\\{session_id\\}|deactivate)$",
             # Hypothesis's health checks judge the data generation, not the server, and depend on
             # timing: on a loaded machine one failed a run whose every case passed, and the same
             # seed passed on replay (too_slow first, then another one). Findings are the checks above.
             "--suppress-health-check", "all",
             "--no-color", *(["--seed", SEED] if SEED else [])], capture_output=True, text=True, timeout=600)
        summary = "\n".join(done.stdout.splitlines()[-25:])
        print(summary)
        assert done.returncode == 0, summary + done.stderr[-2000:]
        assert re.search(r"\d+ (passed|operations)", done.stdout), summary
    finally:
        server.stop()
        await installation.close()
