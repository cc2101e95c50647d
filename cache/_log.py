"""Loggers that import :mod:`logging` when they first log, not when their module is imported.

# NOTE: ``import logging`` (with traceback, string and threading) costs ~4.5 ms, about a sixth
# of what webnnc's own modules add to a cache hit's cold start (2-core EPYC, Python 3.11;
# ``python -X importtime``), and a hit that goes well logs nothing. The modules on the hit path
# take their logger from here; everywhere else ``logging.getLogger(__name__)`` is the rule.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import logging

__all__ = ["get_logger"]


class _Deferred:
    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    # Below WARNING, a message logged before anything imported logging goes nowhere: nothing
    # configured a handler or a level, so the effective level is the root's WARNING. A hit
    # that logs "cache hit" at INFO then costs no import.
    def debug(self, *args: Any, **kwargs: Any) -> None:
        if self._logger is not None or "logging" in sys.modules:
            self._get().debug(*args, **kwargs)

    def info(self, *args: Any, **kwargs: Any) -> None:
        if self._logger is not None or "logging" in sys.modules:
            self._get().info(*args, **kwargs)

    def _get(self) -> Any:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self._name)
        return self._logger

    def __getattr__(self, attr: str) -> Any:  # only for what the proxy lacks: the Logger's API
        return getattr(self._get(), attr)


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, created on first use."""
    return cast("logging.Logger", _Deferred(name))
