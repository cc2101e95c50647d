"""Write pywebnn's public API (names, parameters) to ``pywebnn_api.json`` beside this file.

Run with the Python that has pywebnn installed (3.12; pywebnn 0.5.12 ships cp312 wheels):

    /path/to/python3.12 tests/compat/capture_pywebnn_api.py

The compatibility tests read the JSON, so they need no pywebnn to check that webnnc has
every name and argument and that COMPAT.md lists each of them.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import re
from pathlib import Path
from typing import Any

CLASSES = ("ML", "MLContext", "MLGraphBuilder", "MLOperand", "MLGraph", "MLTensor", "AsyncMLContext", "Hub")


def _params(member: Any) -> list[str] | None:
    text = getattr(member, "__text_signature__", None)
    if text:
        names = [p.strip().split("=")[0].strip() for p in text.strip("()").split(",")]
        return [n for n in names if n and n not in ("$self", "self", "/", "*")]
    try:
        sig = inspect.signature(member)
    except (TypeError, ValueError):
        return None
    return [n for n in sig.parameters if n != "self"]


def main() -> None:
    import webnn

    api: dict[str, Any] = {"version": importlib.metadata.version("pywebnn"), "module": sorted(webnn.__all__), "classes": {}}
    for cname in CLASSES:
        cls = getattr(webnn, cname)
        members: dict[str, Any] = {}
        for name in sorted(dir(cls)):
            if name.startswith("_"):
                continue
            member = getattr(cls, name)
            kind = "method" if callable(member) else "property"
            members[name] = {"kind": kind, "params": _params(member) if kind == "method" else None}
        api["classes"][cname] = members
    out = Path(__file__).with_name("pywebnn_api.json")
    out.write_text(re.sub(r"\n\s+(?=[\]\"a-z0-9_,])", " ", json.dumps(api, indent=1)) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
