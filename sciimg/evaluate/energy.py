"""Energy bias and resolution per energy bin, the Cherenkov field's figures of merit."""

from __future__ import annotations

import numpy as np

MIN_EVENTS_PER_BIN = 10


def energy_bins(true_energy: np.ndarray, per_decade: int = 5) -> np.ndarray:
    """Log-spaced bin edges, ``per_decade`` bins per decade, on a fixed grid covering the data."""
    lo = np.floor(np.log10(true_energy.min()) * per_decade) / per_decade
    hi = np.ceil(np.log10(true_energy.max()) * per_decade) / per_decade
    return 10.0 ** np.round(np.arange(lo, hi + 0.5 / per_decade, 1.0 / per_decade), 6)


def resolution_and_bias(
    true_energy: np.ndarray, reco_energy: np.ndarray, edges: np.ndarray
) -> dict[str, list[float | None] | list[int] | float]:
    """Per bin of true energy: event count, bias and resolution.

    bias = median of ``E_reco/E_true - 1``; resolution = 68 % containment of
    ``|E_reco/E_true - 1|``. Bins with fewer than 10 events get ``None``.
    """
    relative = reco_energy / true_energy - 1.0
    index = np.digitize(true_energy, edges) - 1
    counts, bias, resolution = [], [], []
    for b in range(len(edges) - 1):
        values = relative[index == b]
        counts.append(len(values))
        enough = len(values) >= MIN_EVENTS_PER_BIN
        bias.append(float(np.median(values)) if enough else None)
        resolution.append(float(np.quantile(np.abs(values), 0.68)) if enough else None)
    return {
        "n_events": counts,
        "bias": bias,
        "resolution": resolution,
        "bias_all": float(np.median(relative)),
        "resolution_all": float(np.quantile(np.abs(relative), 0.68)),
    }


def uncertainty_coverage(true_energy: np.ndarray, reco_energy: np.ndarray, reco_std: np.ndarray) -> float:
    """Fraction of events whose true energy lies within the predicted 1-sigma (ideal: 0.683)."""
    return float(np.mean(np.abs(reco_energy - true_energy) <= reco_std))
