"""``python -m webnnc.compiler`` runs the command line."""

from __future__ import annotations

import sys

from webnnc.compiler.cli import main

sys.exit(main())
