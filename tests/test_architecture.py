"""The import contracts of pyproject.toml stay whole (ARCHITECTURE.md).

``lint-imports`` (CI, or ``.ci/lint-imports`` in a checkout) checks the imports against the
contracts; these tests check the contracts themselves, where a silent gap could open.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_no_contract_has_exceptions() -> None:
    excepted = [c["name"] for c in _contracts() if c.get("ignore_imports")]
    assert excepted == [], f"contracts with ignore_imports: {excepted}"


def test_layers_put_the_facade_on_top_and_the_cache_at_the_bottom() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    assert layers["containers"] == ["webnnc"] and layers["exhaustive"] is True
    top, middle, bottom = layers["layers"]
    assert {m.strip() for m in top.split(":")} == {"__main__", "cli", "_context", "_hub"}
    assert middle.replace(" ", "") == "compiler|runtime"  # independent siblings
    assert bottom.strip() == "cache"


def test_coremltools_contract_lists_every_runtime_module_but_the_macos_loader() -> None:
    # The contract names its source modules one by one (no exception for _coreml), so a new
    # runtime module must be added to it, or coremltools could slip into it unchecked.
    (contract,) = [c for c in _contracts() if c.get("forbidden_modules") == ["coremltools"]]
    assert contract["as_packages"] is False
    runtime = {
        "webnnc.runtime" + ("" if p.stem == "__init__" else f".{p.stem}")
        for p in (ROOT / "runtime").glob("*.py")
    }
    assert not list((ROOT / "runtime").glob("*/__init__.py")), "runtime sub-packages: list them too"
    listed = set(contract["source_modules"])
    assert runtime - {"webnnc.runtime._coreml"} <= listed, sorted(runtime - listed)
    assert "webnnc.runtime._coreml" not in listed
    assert {"webnnc.cache", "webnnc.cache.**"} <= listed
