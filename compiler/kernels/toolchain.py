"""The system C compiler: which one, with which flags, and building a shared library with it.

``WEBNNC_CC`` names the compiler (a command or a path); set to ``none`` (or empty) it turns
kernel generation off, as a machine without a compiler does. Otherwise ``cc``, ``gcc`` or
``clang`` on ``PATH`` is used.

# NOTE: what goes into the cache key. The compiler's identity is its resolved path with the
# size and mtime of that file (a ``stat``, ~20 us, once per process): asking ``cc --version``
# would cost a subprocess (2-5 ms) on every build() that hits. An upgraded compiler is a new
# file, so its identity changes. The flags are derived from the CPU features that are already
# in the key (``machine.cpu``): exactly those instruction sets are enabled (``-mavx2 -mfma``),
# never ``-march=native``, which would also enable features the key does not record, so a
# machine with the same key but fewer features could load code it cannot run.
"""

from __future__ import annotations

import functools
import os

from webnnc.cache._log import get_logger
from webnnc.cache.machine import cpu_features
from webnnc.cache.manifest import FrozenRecord

__all__ = ["Toolchain", "find_toolchain", "isa_flags"]

logger = get_logger(__name__)

# CPU feature (as in machine.cpu_features) -> gcc/clang flag enabling it
_X86_FLAGS = (
    ("sse4_1", "-msse4.1"), ("sse4_2", "-msse4.2"), ("avx", "-mavx"), ("avx2", "-mavx2"),
    ("fma", "-mfma"), ("f16c", "-mf16c"), ("avx512f", "-mavx512f"), ("avx512bw", "-mavx512bw"),
    ("avx512vl", "-mavx512vl"),
)
# -ffp-contract=off: every op rounds once, as when ONNX Runtime runs them one by one.
# -fno-math-errno: sqrtf vectorizes (no errno to set). -fno-trapping-math: comparisons may be
# if-converted, so relu / clamp / max loops vectorize (without it gcc 12 keeps W2's loop scalar:
# "control flow in loop"); values are unchanged, only FP exception flags are not kept.
# -fvisibility=hidden: only RegisterCustomOps is exported, so two artifacts' libraries never
# interpose each other.
BASE_FLAGS = (
    "-O3", "-std=c11", "-fPIC", "-shared", "-fvisibility=hidden", "-ffp-contract=off",
    "-fno-math-errno", "-fno-trapping-math", "-fno-semantic-interposition", "-Wl,-z,noexecstack", "-Wl,-z,relro,-z,now",
)
_COMPILE_TIMEOUT_S = 120


def isa_flags(features: str) -> tuple[str, ...]:
    """Instruction-set flags for ``features`` (``<arch>:<flags>``, as in the cache key)."""
    arch, _, flags = features.partition(":")
    have = set(flags.split(","))
    if arch in ("x86_64", "AMD64", "amd64"):
        return tuple(flag for feat, flag in _X86_FLAGS if feat in have)
    return ()  # aarch64: NEON is baseline; other architectures: the compiler's default


class Toolchain(FrozenRecord):
    """A usable C compiler and the flags kernels are built with on this machine."""

    __slots__ = ("command", "identity", "flags")  # noqa: RUF023 - __init__'s order
    command: str
    identity: str
    flags: tuple[str, ...]

    def __init__(self, command: str, identity: str, flags: tuple[str, ...]) -> None:
        self._fill(command, identity, flags)

    def key_part(self) -> str:
        """What the cache key records (``machine.kernels``)."""
        return f"{self.identity} {' '.join(self.flags)}"

    def build(self, source: str) -> bytes:
        """Compile ``source`` into a shared library; return its bytes.

        Raises:
            RuntimeError: the compiler failed or timed out (the message holds its first error lines).
        """
        import subprocess  # a build (a cache miss) only: the key's identity is a stat
        import tempfile

        with tempfile.TemporaryDirectory(prefix="webnnc-cc-") as tmp:
            src = os.path.join(tmp, "kernels.c")
            out = os.path.join(tmp, "kernels.so")
            with open(src, "w", encoding="utf-8") as f:
                f.write(source)
            cmd = [self.command, *self.flags, src, "-o", out]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_S, check=False)
            except (OSError, subprocess.SubprocessError) as e:
                raise RuntimeError(f"{self.command} could not run: {e}") from None
            if done.returncode != 0:
                first = "\n".join(done.stderr.strip().splitlines()[:5])
                raise RuntimeError(f"{self.command} failed (exit {done.returncode}): {first}")
            with open(out, "rb") as f:
                return f.read()


def _which(command: str) -> str | None:
    """``shutil.which`` for POSIX, without importing shutil (and with it zlib, bz2 and lzma:
    ~2.5 ms of every build() that hits, whose key names the compiler)."""
    if os.sep in command:
        return command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder or os.curdir, command)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _resolve() -> str | None:
    env = os.environ.get("WEBNNC_CC")
    if env is not None:
        if env.strip().lower() in ("", "none", "0", "off"):
            return None
        return _which(env)
    for name in ("cc", "gcc", "clang"):
        found = _which(name)
        if found:
            return found
    return None


@functools.lru_cache(maxsize=8)
def _identity(path: str) -> str | None:
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return f"{os.path.basename(real)}:{real}:{st.st_size}:{st.st_mtime_ns}"


def find_toolchain() -> Toolchain | None:
    """The C compiler kernels are built with here, or None (none found, or ``WEBNNC_CC=none``)."""
    path = _resolve()
    if path is None:
        return None
    identity = _identity(path)
    if identity is None:
        return None
    return Toolchain(command=path, identity=identity, flags=(*BASE_FLAGS, *isa_flags(cpu_features())))
