"""One fetcher per mailbox: an exclusive lock file per mailbox in the installation's data folder.

Two processes reading one mailbox would each integrate the same new mail and race on its cursor.
The lock is taken with ``flock``, so the kernel releases it when its holder dies, even by
``SIGKILL``: the next process to try takes over."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path


class MailboxLock:
    def __init__(self, folder: Path, address: str) -> None:
        # The file is named by a hash: the folder listing says nothing of the mailboxes.
        self.path = folder / f"{hashlib.sha256(address.lower().encode()).hexdigest()[:24]}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it; never waits."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the lock
