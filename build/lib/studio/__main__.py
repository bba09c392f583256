"""``python -m studio``: see :mod:`studio.cli`."""
import sys

from studio.synth.cpu import tune_cpu

tune_cpu()  # before any computation: XLA reads its flags once

from studio.cli import main  # noqa: E402

sys.exit(main())
