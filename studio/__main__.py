"""``python -m studio``: see :mod:`studio.cli` (whose ``main`` tunes the CPU first, as the ``synth-studio``
script calls it directly)."""
import sys

from studio.cli import main

sys.exit(main())
