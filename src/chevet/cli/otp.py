"""Print the current TOTP code of a secret: ``python -m chevet.cli.otp SECRET`` (demo and tests)."""

from __future__ import annotations

import sys
import time

from chevet.core import totp

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m chevet.cli.otp SECRET")
    print(totp.code_at(sys.argv[1], totp.step_of(time.time())))
