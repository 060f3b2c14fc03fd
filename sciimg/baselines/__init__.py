"""Classical methods each task is measured against, chosen by name."""

import importlib

FIT_EVENTS = 60  # train events a detector-volume baseline's cuts are chosen on

# name -> (module, class); imported when chosen (the random forest loads scikit-learn, seconds)
BASELINES = {
    "hillas_rf": ("sciimg.baselines.hillas_rf", "HillasRandomForest"),
    "calorimetric": ("sciimg.baselines.detector3d_calorimetric", "Calorimetric"),
}


def baseline_class(name: str) -> type:
    """The baseline registered as ``name``."""
    if name not in BASELINES:
        raise ValueError(f"baseline must be one of {sorted(BASELINES)}, got {name!r}")
    module, cls = BASELINES[name]
    return getattr(importlib.import_module(module), cls)


__all__ = ["BASELINES", "FIT_EVENTS", "baseline_class"]
