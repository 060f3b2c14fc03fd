"""Samples of a temperature-field store: masked (or noisy) anomalies in, the true anomaly out.

A sample is one time step. With ``time_window`` > 1 the neighbouring steps come along,
either as channels (2-D networks) or as a third axis (3-D networks); a neighbour that is
not in this split (another year) comes fully masked, so no split ever sees another's data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sciimg.errors import ConfigError
from sciimg.io.store import SampleStore

TIME_AXES = ("channels", "depth")


def is_global(lon: np.ndarray) -> bool:
    """Whether the longitudes go all the way round (then the grid wraps)."""
    step = np.abs(np.diff(lon)).mean() if len(lon) > 1 else 360.0
    return abs(step * len(lon) - 360.0) < step / 2


def wrap_columns(lon: np.ndarray) -> int:
    """Columns a network's input is extended by on each side, from the other side of the globe:
    a quarter of the grid on global grids (a cell at the date line sees both of its sides), else 0."""
    return len(lon) // 4 if is_global(lon) else 0


def wrap(array: np.ndarray, columns: int) -> np.ndarray:
    """``array`` extended by ``columns`` wrapped columns on each side of its last axis."""
    if columns == 0:
        return array
    return np.pad(array, [(0, 0)] * (array.ndim - 1) + [(columns, columns)], mode="wrap")


class FieldDataset(Dataset):
    """Items: ``image`` and ``mask`` (``(T, Y, X)`` or ``(1, T, Y, X)``), ``target`` and ``valid`` ``(1, Y, X)``;
    on a global grid ``X`` is extended by :attr:`pad` wrapped columns on each side (not ``valid``).

    Values are anomalies divided by the train split's anomaly std; unobserved cells are 0 in
    ``image`` and 0 in ``mask``; ``valid`` marks cells whose truth is known.

    Args:
        path: store file.
        train: the train split, the only one augmented.
        seed: seed of the augmentation.
        augment: ``shuffle_masks`` (train split): each item takes the observation masks of
            another random train sample, drawn from ``(seed, epoch, index)``, so a network
            sees every field under many coverage patterns (inpainting stores only).
        time_window: odd number of consecutive time steps in an item.
        time_axis: ``channels`` or ``depth`` (a 3-D input).
        scale: anomaly std (K) the values are divided by; default the store's (its train split's).
            A trained model passes its own, so stores ingested for another experiment come in its units.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        train: bool = False,
        seed: int = 0,
        augment: Mapping[str, Any] | None = None,
        time_window: int = 1,
        time_axis: str = "channels",
        scale: float | None = None,
    ) -> None:
        if time_window < 1 or time_window % 2 == 0:
            raise ConfigError(f"data.time_window must be a positive odd number, got {time_window}")
        if time_axis not in TIME_AXES:
            raise ConfigError(f"data.time_axis must be one of {list(TIME_AXES)}, got {time_axis!r}")
        self.store = SampleStore(path)
        self.scale = np.float32(self.store.attrs["normalisation"]["scale"] if scale is None else scale)
        self.seed, self.time_window, self.time_axis = seed, time_window, time_axis
        self.shuffle_masks = train and bool((augment or {}).get("shuffle_masks"))
        if self.shuffle_masks and self.store.attrs["corruption"] == "noise":
            raise ConfigError(f"{path}: augment.shuffle_masks applies to inpainting stores, not denoising")
        steps = self.store.read("meta/step")
        self.row_of_step = {int(step): row for row, step in enumerate(steps)}
        self.steps = steps.astype(int)
        self.frame_shape = self.store[0]["image"].shape[1:] if len(self.store) else (0, 0)
        self.pad = wrap_columns(self.store.extra()["lon"])  # items come wrapped round the globe

    @property
    def in_channels(self) -> int:
        """Input channels of the network (the mask is passed separately)."""
        return self.time_window if self.time_axis == "channels" else 1

    @property
    def spatial_dims(self) -> int:
        return 2 if self.time_axis == "channels" else 3

    def __len__(self) -> int:
        return len(self.store)

    def _frame(self, row: int | None, mask_row: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised image and mask of one time step (zeros when the step is not in this split)."""
        if row is None:
            return np.zeros(self.frame_shape, np.float32), np.zeros(self.frame_shape, np.float32)
        sample = self.store[row]
        if mask_row is None:
            image, mask = sample["image"][0], sample["mask"][0].astype(bool)
        else:
            mask = self.store[mask_row]["mask"][0].astype(bool) & np.isfinite(sample["target"][0])
            image = np.where(mask, sample["target"][0], np.nan)
        finite = np.isfinite(image)
        return np.where(finite, image / self.scale, 0.0).astype(np.float32), (mask & finite).astype(np.float32)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        half = self.time_window // 2
        mask_centre = None
        if self.shuffle_masks:
            mask_centre = int(np.random.default_rng([self.seed, epoch, index]).integers(len(self)))
        frames = []
        for offset in range(-half, half + 1):
            row = self.row_of_step.get(int(self.steps[index]) + offset)
            mask_row = None
            if mask_centre is not None:
                mask_row = self.row_of_step.get(int(self.steps[mask_centre]) + offset, mask_centre)
            frames.append(self._frame(row, mask_row))
        image = np.stack([f[0] for f in frames])
        mask = np.stack([f[1] for f in frames])
        if self.time_axis == "depth":
            image, mask = image[None], mask[None]
        target = self.store[index]["target"]
        valid = np.isfinite(target)
        target = wrap(np.where(valid, target / self.scale, 0.0).astype(np.float32), self.pad)
        valid = wrap(valid, self.pad)
        if self.pad:
            valid[..., : self.pad] = valid[..., -self.pad :] = False  # each cell counts once in the loss
        return {
            "image": torch.from_numpy(wrap(image, self.pad)),
            "mask": torch.from_numpy(wrap(mask, self.pad)),
            "target": torch.from_numpy(target),
            "valid": torch.from_numpy(valid),
            "index": torch.tensor(index),
        }
