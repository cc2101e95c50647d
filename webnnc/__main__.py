"""``python -m webnnc`` runs the command line (the same as the ``webnnc`` script)."""

from __future__ import annotations

import sys

from webnnc.cli import main

if __name__ == "__main__":
    sys.exit(main())
