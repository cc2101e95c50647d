"""WebNN operator name <-> builder method name.

Each operator family module in ``webnnc.compiler.frontend.ops`` declares an ``OPS`` dict
(WebNN op name -> builder method); this module merges them. A test checks that every entry
round-trips and names a real builder method.
"""

from __future__ import annotations

from webnnc.compiler.frontend.ops import ALL_OP_MODULES

__all__ = ["METHOD_TO_OP", "OP_TO_METHOD"]

OP_TO_METHOD: dict[str, str] = {}
for _module in ALL_OP_MODULES:
    for _op, _method in _module.OPS.items():
        if _op in OP_TO_METHOD:
            raise RuntimeError(f"operator {_op!r} is declared by two families")
        OP_TO_METHOD[_op] = _method
OP_TO_METHOD = dict(sorted(OP_TO_METHOD.items()))

METHOD_TO_OP: dict[str, str] = {m: o for o, m in OP_TO_METHOD.items()}
