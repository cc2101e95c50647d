"""One test per WPT WebNN conformance vector (``tests/data/wpt``), compared with WPT's rules.

- A case whose operator the builder does not have yet is an ``xfail`` (not run), reason
  ``not implemented: <op>``; this mark disappears by itself once the builder method exists.
- A case listed in ``known_failures.json`` is a strict ``xfail`` with the reason given there:
  when it starts passing, the test fails until the entry is removed, so the list only shrinks.
- Every other case must pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.wpt_runner import (
    WptCase,
    check_case,
    known_failures,
    load_cases,
    missing_operators,
)
from webnnc.compiler.frontend import MLGraphBuilder


def _params() -> list[Any]:
    known = known_failures()
    params = []
    for case in load_cases():
        marks: list[pytest.MarkDecorator] = []
        missing = missing_operators(case, MLGraphBuilder)
        if missing:
            reason = "not implemented: " + ", ".join(missing)
            marks.append(pytest.mark.xfail(reason=reason, strict=False, run=False))
        elif case.id in known:
            marks.append(pytest.mark.xfail(reason=known[case.id], strict=True))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.fixture(scope="module")
def wpt_context() -> Any:
    import webnnc

    return webnnc.ML().create_context(use_cache=False)


def test_known_failures_name_real_cases() -> None:
    ids = {case.id for case in load_cases()}
    unknown = sorted(set(known_failures()) - ids)
    assert not unknown, f"known_failures.json lists cases that do not exist: {unknown}"


@pytest.mark.parametrize("case", _params())
def test_wpt(case: WptCase, wpt_context: Any) -> None:
    check_case(case, wpt_context)
