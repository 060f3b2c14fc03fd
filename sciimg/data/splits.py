"""Input paths and the train/val/test split: what every modality's ingest shares (light to import)."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sciimg.errors import InputError


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Expand paths and globs, in sorted order; a pattern that matches nothing is an error."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern)))
        if not matches:
            raise InputError(f"{pattern}: no input file matches this path")
        paths += [Path(m) for m in matches]
    return paths


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
