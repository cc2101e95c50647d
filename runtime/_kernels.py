"""Loading an artifact's fused-kernel library into an ONNX Runtime session, from verified bytes.

A cached shared library is code, so it is loaded only from the bytes the cache just hashed
and authenticated (``CachedArtifact.held``), never from its path in the cache folder: the
bytes are written to an anonymous in-memory file (``memfd_create``, Linux) that only this
process holds, and ONNX Runtime opens it through ``/proc/self/fd/N``. Where
``memfd_create`` is missing, the copy goes into this process's private temporary folder
(0700). Either way, what is loaded is the bytes that were verified, not a cache file that
could be swapped between the check and the load.

# NOTE: cost. memfd_create + write of a ~20-60 KB library + ONNX Runtime's dlopen measured
# well under a millisecond (benchmarks/bench_kernels.py, cold hit with vs without kernels).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
from typing import Any

from webnnc.cache._log import get_logger

__all__ = ["register_kernels"]

logger = get_logger(__name__)


class _Loaded:
    """Keeps the in-memory file (or private copy) alive until ONNX Runtime has loaded it."""

    def __init__(self, fd: int | None, path: str) -> None:
        self.fd = fd
        self.path = path

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_folder: str | None = None
_count = itertools.count()


def _private_folder() -> str:
    """This process's own 0700 folder for library names (removed at exit).

    Made with ``os.mkdir`` rather than ``tempfile`` (whose import is ~5 ms of a cold hit).
    """
    global _folder
    if _folder is None or not os.path.isdir(_folder):
        base = os.environ.get("TMPDIR") or "/tmp"
        while True:
            path = os.path.join(base, f"webnnc-kernels-{os.getpid()}-{os.urandom(6).hex()}")
            try:
                os.mkdir(path, 0o700)
                break
            except FileExistsError:
                continue
        _folder = path
        atexit.register(_remove_folder, path)
    return _folder


def _remove_folder(path: str) -> None:
    with contextlib.suppress(OSError):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)


def _materialize(library: bytes) -> _Loaded:
    # NOTE: a unique name per load. The dynamic loader reuses an already loaded library whose
    # name equals the one asked for, and /proc/self/fd/N names repeat as descriptors are
    # reused: a second artifact would silently get the first one's library (seen in testing:
    # "is not a registered function/op"). So the name ONNX Runtime opens is a link, unique
    # in this process, in this process's private folder, to the in-memory file.
    name = os.path.join(_private_folder(), f"{next(_count)}.so")
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fd = memfd("webnnc-kernels", getattr(os, "MFD_CLOEXEC", 1))
        try:
            view = memoryview(library)
            while view:
                view = view[os.write(fd, view) :]
            os.symlink(f"/proc/self/fd/{fd}", name)
        except BaseException:
            os.close(fd)
            raise
        return _Loaded(fd, name)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o500)
    with os.fdopen(fd, "wb") as f:
        f.write(library)
    return _Loaded(None, name)


def register_kernels(session_options: Any, library: bytes) -> _Loaded:
    """Register ``library`` (verified bytes) with ``session_options``.

    The caller closes the returned handle once the session exists: ONNX Runtime has then
    loaded the library (its mapping outlives the descriptor and the name).
    """
    loaded = _materialize(library)
    try:
        session_options.register_custom_ops_library(loaded.path)
    except Exception:
        loaded.close()
        raise
    return loaded
