"""``chevet signalement designate`` and ``remind`` on a real installation."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from chevet.app.signalement import designations, filing, handling
from chevet.bootstrap import Installation
from tests.signalement_support import fall
from tests.support import new_member, new_org


def _chevet(installation: Installation, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024"}
    if installation.settings.database.url:
        env["CHEVET_DATABASE_URL"] = installation.settings.database.url
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", "signalement", *args, "--data-dir",
                           str(installation.settings.data_dir)], capture_output=True, text=True, env=env, timeout=60)


async def test_designate_then_remind(installation: Installation) -> None:
    svc = installation.services
    org = await new_org(svc, "ehpad-cli")
    ql = await new_member(svc, org, "nurse")
    carer = await new_member(svc, org, "care_assistant")
    done = _chevet(installation, "designate", "--org", "ehpad-cli", "--email", ql.email)
    assert done.returncode == 0, done.stderr
    assert {f.value for f in await designations.my_functions(svc, ql.actor)} == {"quality_lead"}
    assert _chevet(installation, "designate", "--org", "ehpad-cli", "--email", "nobody@x.example").returncode == 1

    filed = await filing.file_report(svc, carer.actor, mode="named", **fall(svc.clock.now()))
    await handling.qualify(svc, ql.actor, filed.report_id, severity="major", categories=["maltraitance"],
                          awareness_at=svc.clock.now() - timedelta(hours=1))
    first = _chevet(installation, "remind")
    assert first.returncode == 0 and first.stdout.strip() == "1 reminder(s) sent", first.stderr
    assert _chevet(installation, "remind").stdout.strip() == "0 reminder(s) sent"
