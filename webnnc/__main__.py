"""``python -m webnnc`` runs the command line (the same as the ``webnnc`` script)."""

from __future__ import annotations

from webnnc.cli import console

if __name__ == "__main__":
    console()
