"""The train/val/test split every modality's ingest shares (light to import)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def split_indices(n: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Random disjoint train/val/test indices with the given fractions (sorted within a split)."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["val"] * n)
    bounds = {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n),
    }
    return {name: np.sort(order[a:b]) for name, (a, b) in bounds.items()}
