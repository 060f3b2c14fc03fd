"""The one-line verdict of an experiment: which method won its headline figure, by how much, with what certainty.

The model is set against the best classical method on the test set by the experiment's
headline figure (a resolution, an RMSE, a PSNR, an F1 ...). The margin (model minus the
best classical method, in the figure's units) gets a 95 % interval from a paired bootstrap:
the test items are resampled, whole groups at a time where items are not independent
(tiles of one image, time steps of one year), and both figures are recomputed on the same
resample. A method wins only when the interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

N_RESAMPLES = 1000

Figure = Callable[[np.ndarray], float]  # per-item rows (n, ...) -> the headline figure


def mean_figure(rows: np.ndarray) -> float:
    """The mean of per-item values (e.g. PSNR per tile)."""
    return float(np.mean(rows))


def ratio_figure(rows: np.ndarray) -> float:
    """Summed numerators over summed denominators of per-item ``(numerator, denominator)`` rows."""
    totals = rows.sum(axis=0)
    return float(totals[0] / totals[1]) if totals[1] > 0 else float("nan")


def root_ratio_figure(rows: np.ndarray) -> float:
    """Root of summed squared errors over summed weights, per-item ``(weighted squared error, weight)`` rows."""
    return float(np.sqrt(ratio_figure(rows)))


def f1_figure(rows: np.ndarray) -> float:
    """F1 from per-item ``(true positives, false positives, false negatives)`` counts."""
    tp, fp, fn = rows.sum(axis=0)
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn > 0 else float("nan")


def _resampled_items(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Item indices of one bootstrap resample, drawing whole groups with replacement."""
    labels, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(labels))]
    drawn = rng.integers(0, len(labels), len(labels))
    return np.concatenate([members[g] for g in drawn])


def verdict(
    figure_name: str,
    per_item: Mapping[str, np.ndarray],
    figure: Figure,
    lower_is_better: bool,
    model: str,
    classical: Sequence[str],
    items: str,
    groups: np.ndarray | None = None,
    unit: str = "",
    seed: int = 0,
) -> dict[str, Any]:
    """The model against the best of the ``classical`` methods on the headline figure (see the module docstring).

    Args:
        per_item: method -> per-item rows, the same items in the same order for every method.
        figure: reduces rows to the figure (:func:`mean_figure`, :func:`ratio_figure` ...).
        items: what an item is, plural ("events", "tiles"); groups: the item's group
            (resampled whole), default each item alone.
    """
    rivals = [name for name in classical if name in per_item and name != model]
    values = {name: figure(np.asarray(rows)) for name, rows in per_item.items() if name == model or name in rivals}
    sign = 1.0 if lower_is_better else -1.0
    n_items = len(per_item[model])
    result: dict[str, Any] = {
        "figure": figure_name,
        "unit": unit,
        "lower_is_better": lower_is_better,
        "items": items,
        "n_items": n_items,
        "values": values,
        "model": model,
    }
    if not rivals:
        units = f" {unit}" if unit else ""
        result["text"] = f"{model}: {figure_name} {values[model]:.4g}{units} on {n_items} test {items}; no rival ran"
        return result
    best = min(rivals, key=lambda name: sign * values[name])
    groups = np.arange(n_items) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(seed)
    margins = []
    for _ in range(N_RESAMPLES):
        chosen = _resampled_items(groups, rng)
        margins.append(figure(np.asarray(per_item[model])[chosen]) - figure(np.asarray(per_item[best])[chosen]))
    low, high = np.nanquantile(margins, [0.025, 0.975])
    margin = values[model] - values[best]
    decided = bool(low > 0 or high < 0)
    model_better = sign * margin < 0
    winner = (model if model_better else best) if decided else None
    interval = f"95 % interval [{low:+.3g}, {high:+.3g}]"
    head = f"{winner} wins" if winner else "no clear winner"
    units = f" {unit}" if unit else ""
    result.update(
        {
            "best_classical": best,
            "margin": margin,
            "margin_ci95": [float(low), float(high)],
            "winner": winner,
            "text": (
                f"{head} on {figure_name} ({'lower' if lower_is_better else 'higher'} is better): {model} "
                f"{values[model]:.4g} vs {best} {values[best]:.4g}{units}, {model} minus {best} {margin:+.3g}"
                f"{units} ({interval}) on {n_items} test {items}"
            ),
        }
    )
    return result
