"""What the sample stores of each modality hold, read back for the methods that use it.

Ingest writes these arrays; datasets, baselines, inference and evaluation read them here,
so none of them depends on another's module.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation

from sciimg.errors import InputError
from sciimg.io.store import SampleStore
from sciimg.io.volumes import SparseEvent

ARTEFACT_CODES = {"none": 0, "cosmic_ray": 1, "defect": 2, "trail": 3, "saturated": 4}  # sky tiles' ``labels``


def artefact_holes(labels: np.ndarray, dilation: int) -> np.ndarray:
    """Pixels an inpainter fills: the artefacts (cosmic rays, defects, trails), grown by ``dilation`` pixels."""
    artefacts = (labels > ARTEFACT_CODES["none"]) & (labels < ARTEFACT_CODES["saturated"])
    return binary_dilation(artefacts, iterations=dilation) if dilation > 0 and artefacts.any() else artefacts


def sources_by_tile(store: SampleStore) -> list[np.ndarray]:
    """A detection store's truth sources (``extra/sources``), one array per tile."""
    extra = store.extra()
    if "sources" not in extra:
        raise InputError(f"{store.path}: has no truth source catalogs (ingest with task detection)")
    sources = extra["sources"]
    order = np.argsort(sources["tile"], kind="stable")
    bounds = np.searchsorted(sources["tile"][order], np.arange(len(store) + 1))
    return [sources[order[bounds[i] : bounds[i + 1]]] for i in range(len(store))]


def stored_events(store: SampleStore) -> list[SparseEvent]:
    """The occupied voxels of every event of a volume store, in store order, with their classes when stored."""
    meta, extra = store.meta(), store.extra()
    semantic = extra.get("occupied_semantic")
    events = []
    for i, (first, count) in enumerate(zip(meta["first_occupied"], meta["n_occupied"], strict=True)):
        rows = slice(int(first), int(first + count))
        events.append(
            SparseEvent(
                int(meta["event_id"][i]),
                extra["occupied"][rows].astype(np.int64),
                extra["occupied_value"][rows],
                semantic=semantic[rows] if semantic is not None else None,
            )
        )
    return events


def stored_keypoints(store: SampleStore) -> list[np.ndarray]:
    """The truth keypoints (voxel units, ``(k, 3)``) of every event of a volume store, in store order."""
    meta, keypoints = store.meta(), store.read("extra/keypoints")
    return [
        keypoints[int(first) : int(first + count)]
        for first, count in zip(meta["first_keypoint"], meta["n_keypoints"], strict=True)
    ]
