"""``python -m webnnc.cache``: list, verify and import cache entries without the compiler."""

from __future__ import annotations

import sys

from webnnc.cache.cli import main

if __name__ == "__main__":
    sys.exit(main())
