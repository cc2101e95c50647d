"""Cross-process file locks (``fcntl.flock``) that can say who holds them.

# NOTE: why flock, and not a lock file created with O_EXCL or a third-party library.
# The kernel drops a flock when the last descriptor of the holding process closes, however
# the process ends (kill -9 included). A dead holder therefore never blocks anyone, and
# there is no stale-lock guessing (pid files, age thresholds) to get wrong. The ``filelock``
# package would add a dependency for the same flock call plus Windows support we do not need
# for correctness (see below), and it cannot tell a waiter who holds the lock; ours writes
# the holder's pid, host, start time and command line into the lock file after acquiring it,
# so a timeout names the holder.
#
# A lock file is never deleted while it may be in use: removing a file that someone waits on
# would split the waiters across two inodes and let two of them "hold" the same lock. Only
# ``ArtifactStore.gc`` removes lock files, and only those it can lock itself without waiting.
#
# A descriptor inherited by a forked child keeps the lock held after the parent exits; the
# timeout message detects that case (the recorded holder pid is gone) and says so.
#
# Where ``fcntl`` is missing (Windows) locks are no-ops: publication stays atomic and
# content-addressed, so the worst case is a duplicate compilation, never a wrong entry.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import sys
import time
from pathlib import Path
from types import TracebackType

from webnnc.cache.errors import CacheError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["BuildLock", "LockRefused", "LockTimeout"]

logger = logging.getLogger(__name__)

_POLL_MIN_S = 0.005
_POLL_MAX_S = 0.05


class LockTimeout(CacheError):  # noqa: N818 - reads as what happened
    """Waiting for a lock took longer than its timeout; the message names the holder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LockRefused(CacheError, OSError):  # noqa: N818 - reads as what happened
    """The lock file is a symbolic link (planted in a shared folder): it is never followed.

    An ``OSError`` too, so that callers which treat an unopenable lock file as an unusable
    cache (build without it) keep doing so.
    """

    def __str__(self) -> str:
        return str(self.strerror)


class BuildLock:
    """An exclusive (or shared) lock on ``path``, held across processes.

    Use as a context manager or with :meth:`acquire` / :meth:`release`. ``timeout`` None
    waits forever; 0 tries once.

    Args:
        path: the lock file (created if missing; its folder must exist); None makes a
            lock that is always free (for a cache folder nobody can write).
        timeout: seconds to wait before raising :class:`LockTimeout`.
        shared: take a shared lock (many holders) instead of an exclusive one.
        purpose: words for messages, e.g. "the build lock of key 3fa2…".
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        timeout: float | None = None,
        shared: bool = False,
        purpose: str = "",
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.timeout = timeout
        self.shared = shared
        self.purpose = purpose or f"the lock {self.path}"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, polling with back-off until ``timeout``.

        Raises:
            LockTimeout: still held by someone else after ``timeout`` seconds.
            OSError: the lock file cannot be opened (an unwritable cache folder).
        """
        if self._fd is not None:
            raise CacheError(f"{self.purpose} is already held by this object")
        if fcntl is None or self.path is None:
            self._fd = -1  # a no-op lock (Windows, or nothing to share)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)  # the cache may have been deleted
        # never through a symlink planted in the lock folder, and private to the user
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            raise LockRefused(
                errno.ELOOP,
                f"{self.purpose}: lock file {self.path} is a symbolic link; refusing to follow it "
                "(someone who can write the cache folder planted it: check the folder, then remove it)",
            ) from None
        op = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        start = time.monotonic()
        delay = _POLL_MIN_S
        try:
            while True:
                try:
                    fcntl.flock(fd, op | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - start
                    if self.timeout is not None and waited >= self.timeout:
                        raise LockTimeout(self._timeout_message(fd, waited)) from None
                    time.sleep(delay)
                    delay = min(delay * 2, _POLL_MAX_S)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if not self.shared:
            self._write_holder(fd)

    def try_acquire(self) -> bool:
        """Take the lock if it is free now; False (without waiting) when it is held."""
        saved = self.timeout
        self.timeout = 0
        try:
            self.acquire()
        except LockTimeout:
            return False
        finally:
            self.timeout = saved
        return True

    def release(self) -> None:
        """Release the lock (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None or fd < 0:
            return
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> BuildLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
            self._fd = None

    # ------------------------------------------------------------------ holder info
    @staticmethod
    def _write_holder(fd: int) -> None:
        import socket  # only a writer (a miss) records itself: a hit never imports it

        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
            "command": " ".join(sys.argv)[:200],
        }
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                return  # never truncate a file we do not own
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as e:  # holder info is a courtesy; the lock itself is held
            logger.debug("could not record the lock holder in %s: %s", fd, e)

    def holder(self) -> dict[str, object]:
        """What the lock file says about its (last) exclusive holder; {} when unknown."""
        if self.path is None:
            return {}
        try:
            obj = json.loads(self.path.read_bytes() or b"{}")
        except (OSError, ValueError):
            return {}
        return obj if isinstance(obj, dict) else {}

    def _timeout_message(self, fd: int, waited: float) -> str:
        import socket

        info = self.holder()
        pid = info.get("pid")
        host = info.get("host")
        since = info.get("since")
        where = f"pid {pid} on {host}" if pid else "an unknown process"
        age = f", holding it for {time.time() - since:.0f} s" if isinstance(since, (int, float)) else ""
        cmd = f" ({info['command']})" if info.get("command") else ""
        msg = f"timed out after {waited:.0f} s waiting for {self.purpose}: held by {where}{age}{cmd}"
        if isinstance(pid, int) and host == socket.gethostname() and not _pid_alive(pid):
            msg += (
                f"; pid {pid} has exited, so a process that inherited its descriptor (e.g. a "
                "forked child) still holds the lock"
            )
        elif isinstance(pid, int):
            msg += "; the holder is still running (stuck or slow)"
        return msg
