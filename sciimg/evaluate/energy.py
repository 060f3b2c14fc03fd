"""Energy bias and resolution, the Cherenkov field's figures of merit, with stated definitions.

For the relative error ``r = E_reco / E_true - 1`` of the events in a bin:

- bias: median of ``r``;
- resolution: 68 % containment of ``|r|``;
- resolution_pyirf: half the distance between the 15.9 % and 84.1 % quantiles of ``r``
  (pyirf's ``inter_quantile_distance``, which does not count a constant bias);
- ``*_ci``: 95 % bootstrap confidence interval (resampling the bin's events).
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_EVENTS_PER_BIN = 10
N_BOOTSTRAP = 200
INTENSITY_EDGES = (50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0, np.inf)
LEAKAGE_EDGES = (0.0, 0.01, 0.05, 0.2, 1.0001)


def energy_bins(true_energy: np.ndarray, per_decade: int = 5) -> np.ndarray:
    """Log-spaced bin edges, ``per_decade`` bins per decade, on a fixed grid covering the data."""
    lo = np.floor(np.log10(true_energy.min()) * per_decade) / per_decade
    hi = np.ceil(np.log10(true_energy.max()) * per_decade) / per_decade
    return 10.0 ** np.round(np.arange(lo, hi + 0.5 / per_decade, 1.0 / per_decade), 6)


def _statistics(relative: np.ndarray) -> np.ndarray:
    """(bias, resolution, resolution_pyirf) of relative errors along the last axis."""
    q16, q50, q84 = np.quantile(relative, [0.159, 0.5, 0.841], axis=-1)
    return np.stack([q50, np.quantile(np.abs(relative), 0.68, axis=-1), (q84 - q16) / 2.0])


def bin_statistics(relative: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Bias, resolution and pyirf resolution of one bin, each with a 95 % bootstrap interval."""
    values = _statistics(relative)
    resampled = relative[rng.integers(0, len(relative), size=(N_BOOTSTRAP, len(relative)))]
    low, high = np.quantile(_statistics(resampled), [0.025, 0.975], axis=-1)
    out: dict[str, Any] = {}
    for i, name in enumerate(("bias", "resolution", "resolution_pyirf")):
        out[name] = float(values[i])
        out[f"{name}_ci"] = [float(low[i]), float(high[i])]
    return out


def grouped_statistics(relative: np.ndarray, groups: np.ndarray, n_groups: int, seed: int = 0) -> dict[str, list]:
    """Per group (index 0..n_groups-1): event count and :func:`bin_statistics` (None below 10 events)."""
    rng = np.random.default_rng(seed)
    keys = ("bias", "resolution", "resolution_pyirf")
    out: dict[str, list] = {"n_events": []} | {k: [] for k in keys} | {f"{k}_ci": [] for k in keys}
    for group in range(n_groups):
        values = relative[groups == group]
        out["n_events"].append(len(values))
        stats = bin_statistics(values, rng) if len(values) >= MIN_EVENTS_PER_BIN else {}
        for key in out:
            if key != "n_events":
                out[key].append(stats.get(key))
    return out


def resolution_and_bias(true_energy: np.ndarray, reco_energy: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    """Per bin of true energy and over all events: counts, bias, resolutions and their intervals."""
    relative = reco_energy / true_energy - 1.0
    per_bin = grouped_statistics(relative, np.digitize(true_energy, edges) - 1, len(edges) - 1)
    overall = bin_statistics(relative, np.random.default_rng(1))
    return per_bin | {f"{key}_all": value for key, value in overall.items()}


def by_ranges(relative: np.ndarray, values: np.ndarray, edges: tuple[float, ...]) -> dict[str, Any]:
    """Bias and resolutions in ranges of an image parameter (e.g. intensity or leakage)."""
    groups = np.digitize(values, edges) - 1
    return {"edges": [float(e) for e in edges], **grouped_statistics(relative, groups, len(edges) - 1)}


def migration_matrix(true_energy: np.ndarray, reco_energy: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction of events of each true-energy bin (rows) reconstructed in each energy bin (columns)."""
    counts, _, _ = np.histogram2d(true_energy, reco_energy, bins=[edges, edges])
    totals = counts.sum(axis=1, keepdims=True)
    return counts / np.where(totals > 0, totals, 1.0)


def uncertainty_coverage(true_energy: np.ndarray, reco_energy: np.ndarray, reco_std: np.ndarray) -> float:
    """Fraction of events whose true energy lies within the predicted 1-sigma (ideal: 0.683)."""
    return float(np.mean(np.abs(reco_energy - true_energy) <= reco_std))
