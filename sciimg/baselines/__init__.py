"""Classical methods each task is measured against, chosen by name."""

from sciimg.baselines.calorimetric import Calorimetric
from sciimg.baselines.hillas_rf import HillasRandomForest

BASELINES = {"hillas_rf": HillasRandomForest, "calorimetric": Calorimetric}


def baseline_class(name: str) -> type:
    """The baseline registered as ``name``."""
    if name not in BASELINES:
        raise ValueError(f"baseline must be one of {sorted(BASELINES)}, got {name!r}")
    return BASELINES[name]


__all__ = ["BASELINES", "Calorimetric", "HillasRandomForest", "baseline_class"]
