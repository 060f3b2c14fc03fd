"""Classical methods each task is measured against, chosen by name."""

from sciimg.baselines.cherenkov_energy import IntensityRegression

BASELINES = {"intensity_regression": IntensityRegression}


def baseline_class(name: str) -> type:
    """The baseline registered as ``name``."""
    if name not in BASELINES:
        raise ValueError(f"baseline must be one of {sorted(BASELINES)}, got {name!r}")
    return BASELINES[name]


__all__ = ["BASELINES", "IntensityRegression", "baseline_class"]
