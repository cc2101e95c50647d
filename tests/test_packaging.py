"""The three top-level folders install as webnnc.compiler / webnnc.runtime / webnnc.cache."""

from __future__ import annotations

import tomllib
from pathlib import Path

import webnnc

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found == listed, f"pyproject packages differ from the source tree: missing {found - listed}, extra {listed - found}"


def test_facade_exposes_the_webnn_classes() -> None:
    for name in ("ML", "MLContext", "MLGraph", "MLGraphBuilder", "MLOperand", "load"):
        assert getattr(webnnc, name) is not None
