"""Scoring shared by every method: detections matched to truth positions, the score threshold
that reaches a purity, per-class precision and recall.

Used by the evaluation, the model's threshold calibration and the classical methods' fits
alike, so every method is matched, scored and calibrated the same way (below baselines,
inference and evaluate, so all of them import it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

MATCH_RADIUS = 1.5  # pixels


def match_positions(
    truth_yx: np.ndarray, found_yx: np.ndarray, radius: float = MATCH_RADIUS
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matches within ``radius`` pixels that minimise the summed distance.

    Returns:
        indices into ``truth_yx`` and into ``found_yx`` of the matched pairs.
    """
    if len(truth_yx) == 0 or len(found_yx) == 0:
        return np.empty(0, int), np.empty(0, int)
    pairs = cKDTree(truth_yx).sparse_distance_matrix(cKDTree(found_yx), radius, output_type="coo_matrix")
    if pairs.nnz == 0:
        return np.empty(0, int), np.empty(0, int)
    rows, rows_index = np.unique(pairs.row, return_inverse=True)
    cols, cols_index = np.unique(pairs.col, return_inverse=True)
    cost = np.full((len(rows), len(cols)), 1e6)
    cost[rows_index, cols_index] = pairs.data
    r, c = linear_sum_assignment(cost)
    keep = cost[r, c] <= radius
    return rows[r[keep]], cols[c[keep]]


def real_detections(truth_yx: np.ndarray, found_yx: np.ndarray, radius: float = MATCH_RADIUS) -> np.ndarray:
    """Per detection, whether it matches a truth source (one-to-one, within ``radius`` pixels)."""
    real = np.zeros(len(found_yx), bool)
    real[match_positions(truth_yx, found_yx, radius)[1]] = True
    return real


def scored_candidates(found: Iterable[Mapping[str, np.ndarray]], truths: Iterable[np.ndarray]):
    """Over tiles, the candidates' scores and whether each matches a truth source; ``found`` and ``truths``
    give per tile columns ``y``, ``x`` (and ``score``)."""
    scores, real = [], []
    for columns, truth in zip(found, truths, strict=True):
        truth_yx, found_yx = np.column_stack([truth["y"], truth["x"]]), np.column_stack([columns["y"], columns["x"]])
        scores.append(np.asarray(columns["score"], float))
        real.append(real_detections(truth_yx, found_yx))
    return np.concatenate(scores), np.concatenate(real)


def threshold_for_purity(scores: np.ndarray, real: np.ndarray, target: float) -> float:
    """The lowest score threshold at which at least ``target`` of the detections kept (score >= it) are real.

    Where no threshold reaches the target, the one of highest purity is returned.
    """
    if len(scores) == 0:
        return float("inf")
    order = np.argsort(-scores, kind="stable")
    purity = np.cumsum(real[order]) / np.arange(1, len(order) + 1)
    sorted_scores = scores[order]
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]  # a threshold keeps a whole tie
    reached = np.flatnonzero(last_of_tie & (purity >= target))
    best = reached[-1] if len(reached) else int(np.argmax(np.where(last_of_tie, purity, -1)))
    return float(sorted_scores[best])


LOOSER_PURITY = 0.95  # detectors' second operating point: at 0.99 a few offset bright sources decide a cut


def class_scores(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Confusion matrix (rows truth, columns prediction) and per-class precision, recall, F1 (NaN where undefined)."""
    confusion = np.bincount(
        np.asarray(truth, np.int64) * n_classes + np.asarray(predicted, np.int64), minlength=n_classes**2
    ).reshape(n_classes, n_classes)
    hits = np.diag(confusion).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / confusion.sum(axis=0)
        recall = hits / confusion.sum(axis=1)
        f1 = 2 * hits / (confusion.sum(axis=0) + confusion.sum(axis=1))
    return {"confusion": confusion, "precision": precision, "recall": recall, "f1": f1}
