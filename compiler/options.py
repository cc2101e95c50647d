"""Compile options and targets."""

from __future__ import annotations

from webnnc.cache.manifest import FrozenRecord
from webnnc.compiler.errors import CompilerError
from webnnc.compiler.targets import TARGETS as _TARGETS
from webnnc.compiler.targets import get_target

__all__ = ["OPT_LEVELS", "PRECISIONS", "TARGETS", "CompileOptions"]

# target name -> backend description (the targets themselves: webnnc.compiler.targets)
TARGETS: dict[str, str] = {name: t.description for name, t in _TARGETS.items()}
OPT_LEVELS = ("none", "basic", "extended", "all")
# "fast": each op runs as ONNX Runtime's native kernel; "strict": the spec's exact formula
# where that kernel misses a WPT tolerance (compiler/emitters/LOWERING.md has the table)
PRECISIONS = ("fast", "strict")


class CompileOptions(FrozenRecord):
    """Options that shape the compiled artifact (every field is part of the cache key).

    Attributes:
        target: one of :data:`TARGETS`.
        optimization_level: ONNX Runtime's offline optimization level. ``"all"`` adds
            machine-specific layouts, so the key then includes the CPU's feature flags.
        passes: run webnnc's pass pipeline (``False``: emit the graph as built).
        precision: ``"fast"`` (default) lowers every op to ONNX Runtime's native kernel;
            ``"strict"`` keeps the spec's exact decomposition for the few ops whose native
            kernel is less exact than the WPT tolerances on some inputs (sigmoid tails,
            hardSwish near -3, elu near 0, normalizations of inputs with a large mean),
            unless the value-range analysis proves the operand safe. Both are in the key.
        fusion: on ``onnx-cpu``, compile the elementwise regions ONNX Runtime leaves as
            separate passes over memory into one generated C kernel each, built with the
            system C compiler (``compiler/kernels/KERNELS.md``). The compiler's identity and
            the CPU features then join the key. Without a compiler the artifact is plain.
    """

    __slots__ = ("target", "optimization_level", "passes", "precision", "fusion")  # noqa: RUF023 - __init__'s order
    target: str
    optimization_level: str
    passes: bool
    precision: str
    fusion: bool

    def __init__(
        self,
        target: str = "onnx-cpu",
        optimization_level: str = "all",
        passes: bool = True,
        precision: str = "fast",
        fusion: bool = True,
    ) -> None:
        self._fill(target, optimization_level, passes, precision, fusion)
        if self.target not in TARGETS:
            raise CompilerError(f"unknown target {self.target!r}; choose one of {sorted(TARGETS)}")
        if self.optimization_level not in OPT_LEVELS:
            raise CompilerError(
                f"unknown optimization_level {self.optimization_level!r}; choose one of {list(OPT_LEVELS)}"
            )
        if self.precision not in PRECISIONS:
            raise CompilerError(f"unknown precision {self.precision!r}; choose one of {list(PRECISIONS)}")

    def canonical_items(self) -> tuple[tuple[str, str], ...]:
        """Sorted ``(name, value)`` string pairs for the cache key.

        >>> CompileOptions().canonical_items()[:2]
        (('fusion', 'True'), ('optimization_level', 'all'))
        """
        return tuple(sorted((k, str(getattr(self, k))) for k in self.__slots__))

    @property
    def machine_specific(self) -> bool:
        """Whether the artifact depends on this machine's CPU (its features join the key)."""
        return get_target(self.target).machine_specific(self)
