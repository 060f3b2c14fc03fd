"""Training samples from a detector-volume store: crops centred on occupied voxels, or whole events.

Segmentation (:class:`VolumeDataset`): most of a detector volume is empty, so a crop is
centred on a random occupied voxel (shifted by up to a quarter of the crop), never on empty
space. Only the HDF5 chunks the crop touches are read. Training crops are flipped along y
and x and may swap them (the drift axis z keeps its direction: diffusion grows along it);
validation crops are the same for every epoch. Items: ``image`` ``(1, P, P, P)`` as log1p(charge / scale) and
``labels`` ``(P, P, P)`` int64 with -1 on empty voxels (no loss there).

Keypoints (:class:`VolumeKeypointDataset`): crops as for segmentation, half of them centred
on a keypoint, with a heatmap target (a Gaussian around each keypoint, 1 at its voxel).

Regression (:class:`VolumeEventDataset`): the whole event, flipped alike in training, with
the store's per-event target (e.g. the deposited energy) from its meta table.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch.utils.data import Dataset

from sciimg.io.store import SampleStore


def volume_input(charge: np.ndarray, scale: float) -> np.ndarray:
    """Network input from charges: log1p(charge / scale), float32 (empty voxels stay 0)."""
    return np.log1p(np.clip(charge, 0, None) / scale).astype(np.float32)


def crop_start(
    centre: np.ndarray, shape: tuple[int, ...], size: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Corner of a crop of ``size`` around ``centre`` (shifted up to a quarter crop), inside ``shape``."""
    size_arr, shape_arr = np.asarray(size), np.asarray(shape)
    shift = rng.integers(-(size_arr // 4), size_arr // 4 + 1)
    return np.clip(centre - size_arr // 2 + shift, 0, shape_arr - size_arr)


class VolumeDataset(Dataset):
    """Crops of a volume store for segmentation (see the module docstring).

    Args:
        path: store file.
        train: random crops and flips per epoch (else one fixed crop per event).
        seed: seed of the crops.
        patch_size: side of a crop (clipped to the grid).
        crops_per_event: training crops per event and epoch.
    """

    def __init__(
        self, path: str | os.PathLike, train: bool, seed: int = 0, patch_size: int = 32, crops_per_event: int = 2
    ) -> None:
        self.store = SampleStore(path)
        self.train, self.seed = train, seed
        grid = self.store.attrs["grid"]["shape"]
        self.shape = tuple(int(s) for s in grid)
        self.size = tuple(min(patch_size, s) for s in self.shape)
        self.crops = crops_per_event if train else 1
        self.scale = float(self.store.attrs["normalisation"]["scale"])
        meta = self.store.meta()
        self.first, self.count = meta["first_occupied"], meta["n_occupied"]
        self.occupied = self.store.read("extra/occupied")

    def __len__(self) -> int:
        return len(self.store) * self.crops

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        event = index // self.crops
        rng = np.random.default_rng([self.seed, epoch if self.train else 0, index])
        pick = self.first[event] + rng.integers(self.count[event])
        start = crop_start(self.occupied[pick].astype(np.int64), self.shape, self.size, rng)
        region = tuple(slice(int(s), int(s) + n) for s, n in zip(start, self.size, strict=True))
        h5 = self.store._file()
        image = volume_input(h5["image"][(event, slice(None), *region)], self.scale)
        labels = h5["labels"][(event, *region)].astype(np.int64)
        if self.train:
            image, labels = flip_crop(image, labels, rng)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image)),
            "labels": torch.from_numpy(np.ascontiguousarray(labels)),
            "index": torch.tensor(event),
        }


CENTRE_SEARCH = 2.0  # voxels: a keypoint's centre is the nearest occupied voxel this close


def render_heat(occupied: np.ndarray, keypoints: np.ndarray, heat_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap and centres of ``keypoints`` (voxel units, in the frame of ``occupied``, a ``(Z, Y, X)`` mask).

    The heat is a Gaussian of ``heat_sigma`` voxels around each keypoint (the maximum where
    they overlap); each keypoint's centre is the occupied voxel nearest to it, if one lies
    within :data:`CENTRE_SEARCH` voxels, and has heat 1.
    """
    shape = occupied.shape
    heat = np.zeros(shape, np.float32)
    centres = np.zeros(shape, bool)
    if len(keypoints) == 0:
        return heat, centres
    reach = int(np.ceil(3 * heat_sigma))
    for point in keypoints:
        low = np.maximum(np.floor(point).astype(int) - reach, 0)
        high = np.minimum(np.floor(point).astype(int) + reach + 1, shape)
        if np.any(low >= high):
            continue
        axes = [np.arange(lo, hi) + 0.5 - p for lo, hi, p in zip(low, high, point, strict=True)]
        distance2 = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
        block = tuple(slice(lo, hi) for lo, hi in zip(low, high, strict=True))
        heat[block] = np.maximum(heat[block], np.exp(-distance2 / (2 * heat_sigma**2)))
    voxels = np.argwhere(occupied)
    if len(voxels):
        distance, nearest = cKDTree(voxels + 0.5).query(keypoints, distance_upper_bound=CENTRE_SEARCH)
        found = voxels[nearest[np.isfinite(distance)]]
        centres[tuple(found.T)] = True
        heat[centres] = 1.0
    return heat, centres


class VolumeKeypointDataset(VolumeDataset):
    """Crops of a volume store with keypoint heatmaps (see the module docstring).

    Args:
        path, train, seed, patch_size, crops_per_event: see :class:`VolumeDataset`.
        heat_sigma: width (voxels) of a keypoint's Gaussian in the heatmap.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        train: bool,
        seed: int = 0,
        patch_size: int = 32,
        crops_per_event: int = 2,
        heat_sigma: float = 1.5,
    ) -> None:
        super().__init__(path, train, seed, patch_size, crops_per_event)
        meta = self.store.meta()
        self.first_keypoint, self.n_keypoints = meta["first_keypoint"], meta["n_keypoints"]
        self.keypoints = self.store.read("extra/keypoints")
        self.heat_sigma = heat_sigma

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        event = index // self.crops
        rng = np.random.default_rng([self.seed, epoch if self.train else 0, index])
        rows = slice(int(self.first_keypoint[event]), int(self.first_keypoint[event] + self.n_keypoints[event]))
        keypoints = self.keypoints[rows]
        if len(keypoints) and rng.random() < 0.5:
            centre = np.floor(keypoints[rng.integers(len(keypoints))]).astype(np.int64)
        else:
            centre = self.occupied[self.first[event] + rng.integers(self.count[event])].astype(np.int64)
        start = crop_start(centre, self.shape, self.size, rng)
        region = tuple(slice(int(s), int(s) + n) for s, n in zip(start, self.size, strict=True))
        image = volume_input(self.store._file()["image"][(event, slice(None), *region)], self.scale)
        heat, centres = render_heat(image[0] > 0, keypoints - start, self.heat_sigma)
        stacked = np.concatenate([image, heat[None], centres[None].astype(np.float32)])
        if self.train:
            stacked, _ = flip_crop(stacked, stacked[0], rng)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(stacked[:1])),
            "heatmap": torch.from_numpy(np.ascontiguousarray(stacked[1:2])),
            "centres": torch.from_numpy(np.ascontiguousarray(stacked[2:3] > 0.5)),
            "index": torch.tensor(event),
        }


class VolumeEventDataset(Dataset):
    """Whole events of a volume store with their regression target (see the module docstring).

    Args:
        path: store file (its ``target_name`` attribute names the meta column).
        train: random flips per epoch (else none).
        seed: seed of the flips.
    """

    def __init__(self, path: str | os.PathLike, train: bool, seed: int = 0) -> None:
        self.store = SampleStore(path)
        self.train, self.seed = train, seed
        self.scale = float(self.store.attrs["normalisation"]["scale"])
        self.target = np.asarray(self.store.meta()[self.store.attrs["target_name"]], np.float32)

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        image = volume_input(self.store._file()["image"][index], self.scale)
        if self.train:
            image, _ = flip_crop(image, image[0], np.random.default_rng([self.seed, epoch, index]))
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image)),
            "target": torch.tensor(self.target[index]),
            "index": torch.tensor(index),
        }


def flip_crop(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random flips along y and x and a random y/x swap (``image`` ``(C, Z, Y, X)``, ``labels`` ``(Z, Y, X)``)."""
    flip_y, flip_x, swap = rng.random(3) < 0.5
    if flip_y:
        image, labels = image[:, :, ::-1], labels[:, ::-1]
    if flip_x:
        image, labels = image[:, :, :, ::-1], labels[:, :, ::-1]
    if swap and image.shape[2] == image.shape[3]:
        image, labels = image.swapaxes(2, 3), labels.swapaxes(1, 2)
    return image, labels
