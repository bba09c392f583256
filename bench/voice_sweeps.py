"""The sweeps and random audible sounds of the explore benchmarks; they live in ``studio/explore/sweeps.py`` (the
``sweeps`` kind of ``python -m studio dataset`` uses them too). Kept so the benchmarks' imports stay as they were."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from studio.explore.sweeps import (  # noqa: E402, F401
    AMP_ROUTES,
    ATTRIBUTE_NAMES,
    ATTRIBUTES,
    PITCH_ROUTES,
    STEPS,
    Attribute,
    attribute_named,
    attribute_sweeps,
    base_sound,
    random_audible_thetas,
    render_sweeps,
    sweep,
)
