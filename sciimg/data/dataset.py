"""PyTorch Dataset and LightningDataModule over sample-store files."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sciimg.data.augment import CameraAugmentation
from sciimg.data.sampling import EpochSampler, ResumableLoader
from sciimg.data.transforms import ChannelNormalisation
from sciimg.errors import ConfigError
from sciimg.geometry.mappers import GridMapper, symmetry_permutations
from sciimg.io.store import SampleStore


def camera_augmentation(
    store: SampleStore, extra: Mapping[str, np.ndarray], options: Mapping[str, Any]
) -> CameraAugmentation | None:
    """The augmentation a camera store's train split asks for (None when it asks for none)."""
    if not options.get("hex_symmetries") and not options.get("extra_nsb_pe"):
        return None
    n_pixels = len(extra["pix_x"])
    permutations = np.arange(n_pixels)[None]
    if options.get("hex_symmetries"):
        permutations = symmetry_permutations(extra["pix_x"], extra["pix_y"])
        if len(permutations) == 1:
            raise ConfigError(
                f"{store.path}: augment.hex_symmetries needs a camera that a 60-degree rotation or a "
                f"reflection maps onto itself; camera {extra['camera_name']} has no such symmetry"
            )
    channels = store.attrs["channels"]
    charge = channels.index("charge") if "charge" in channels else 0
    return CameraAugmentation(permutations, float(options.get("extra_nsb_pe", 0.0)), charge)


NOT_ROTATION_INVARIANT = ("true_alt", "true_az", "true_core_x", "true_core_y")


def aux_columns(store: SampleStore, names: Sequence[str]) -> np.ndarray:
    """``(n_samples, len(names))`` meta columns, unstandardised, for auxiliary targets."""
    meta = store.meta()
    missing = [n for n in names if n not in meta]
    if missing:
        raise ConfigError(
            f"{store.path}: aux_targets {missing} are not columns of the store, choose from {sorted(meta)}"
        )
    return np.column_stack([np.asarray(meta[n], np.float32) for n in names])


class StoreDataset(Dataset):
    """Samples of one camera store split as dicts of tensors: ``image`` (normalised), ``target``, ``index``.

    Camera stores hold pixel images ``(C, n_pixels)``; they are augmented (train split, if
    asked), mapped to the grid with the store's mapper, then normalised.

    Items are read by index, or by an ``(epoch, index)`` key (:class:`EpochSampler`): the
    augmentation of a sample is drawn from ``(seed, epoch, index)`` alone, so it is the same
    whichever process or worker reads it, and again after a resume. A bare index is epoch 0.

    Args:
        path: store file.
        train: the train split, the only one augmented.
        seed: seed of the augmentation.
        augment: ``hex_symmetries`` (exact rotations and reflections of the camera), ``extra_nsb_pe``.
        aux_targets: meta columns returned as ``aux``, standardised with the train split's
            mean and std (set by :class:`StoreDataModule`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        train: bool = False,
        seed: int = 0,
        augment: Mapping[str, Any] | None = None,
        aux_targets: Sequence[str] = (),
    ) -> None:
        augment = dict(augment or {}) if train else {}
        turned = [n for n in aux_targets if n in NOT_ROTATION_INVARIANT]
        if turned and augment.get("hex_symmetries"):
            raise ConfigError(
                f"aux_targets {turned} change when the camera is rotated; with hex_symmetries use "
                "rotation-invariant ones such as true_impact_distance"
            )
        self.store = SampleStore(path)
        self.seed = seed
        self.aux = aux_columns(self.store, aux_targets) if aux_targets else None
        self.aux_mean, self.aux_std = np.float32(0.0), np.float32(1.0)  # set from train by the data module
        self.normalisation = ChannelNormalisation.from_list(self.store.attrs["normalisation"])
        extra = self.store.extra()
        self.mapper = GridMapper.from_arrays(extra) if "mapper_cell" in extra else None
        self.valid = extra["valid_mask"].astype(bool) if "valid_mask" in extra else None
        self.augmentation = camera_augmentation(self.store, extra, augment)

    def __len__(self) -> int:
        return len(self.store)

    @property
    def in_channels(self) -> int:
        return len(self.store.attrs["channels"])

    @property
    def spatial_dims(self) -> int:
        return 2

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        sample = self.store[index]
        image = sample["image"]
        if self.augmentation is not None:
            image = self.augmentation(image, np.random.default_rng([self.seed, epoch, index]))
        if self.mapper is not None:
            image = self.mapper.to_grid(image)
        out = {
            "image": torch.from_numpy(self.normalisation(image, self.valid)),
            "index": torch.tensor(index),
        }
        if "target" in sample:
            out["target"] = torch.as_tensor(np.asarray(sample["target"], np.float32))
        if self.aux is not None:
            out["aux"] = torch.from_numpy((self.aux[index] - self.aux_mean) / self.aux_std)
        return out


class StoreDataModule(L.LightningDataModule):
    """Train/val/test splits from the ingest rule's store files.

    Under data-parallel training each process reads its own share of every training
    batch (:class:`EpochSampler`), so ``batch_size`` is the global batch whatever the
    number of processes; validation and test run whole on every process.

    Args:
        train, val, test: store paths (test optional).
        batch_size: samples per optimiser step, summed over all processes.
        num_workers: DataLoader workers per process; each opens its own HDF5 handle.
        seed: seed of the training order (and of the dataset's augmentation).
        pin_memory: page-locked batches for faster host-to-GPU copies.
        channels_last: hand images over in channels-last memory layout (2D and 3D).
        dataset: the dataset class of every split, built as ``dataset(path, train, seed,
            **dataset_options)`` (an experiment kind names both); camera stores by default.
    """

    def __init__(
        self,
        train: str,
        val: str,
        test: str | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        pin_memory: bool = False,
        channels_last: bool = False,
        dataset: type[Dataset] = StoreDataset,
        dataset_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.paths = {"train": train, "val": val, "test": test}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.pin_memory = pin_memory
        self.channels_last = channels_last
        self.dataset = dataset
        self.dataset_options = dict(dataset_options or {})
        self.datasets: dict[str, Dataset] = {}

    def setup(self, stage: str | None = None) -> None:
        for split, path in self.paths.items():
            if path is not None and split not in self.datasets:
                self.datasets[split] = self.dataset(path, split == "train", self.seed, **self.dataset_options)
        train = self.datasets["train"]
        if getattr(train, "aux", None) is not None:  # auxiliary targets, standardised by the train split
            for dataset in self.datasets.values():
                dataset.aux_mean, dataset.aux_std = train.aux.mean(axis=0), train.aux.std(axis=0) + np.float32(1e-6)

    def _workers(self) -> dict[str, Any]:
        return {
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
            "pin_memory": self.pin_memory,
        }

    def train_dataloader(self) -> ResumableLoader:
        world, rank = 1, 0
        if self.trainer is not None:
            world, rank = self.trainer.world_size, self.trainer.global_rank
        if self.batch_size % world:
            raise ConfigError(f"trainer.batch_size must be divisible by the {world} processes, got {self.batch_size}")
        sampler = EpochSampler(len(self.datasets["train"]), self.seed, world, rank)
        return ResumableLoader(self.datasets["train"], sampler, self.batch_size // world, **self._workers())

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.datasets["val"], batch_size=self.batch_size, **self._workers())

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.datasets["test"], batch_size=self.batch_size, **self._workers())

    def on_after_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int) -> dict[str, torch.Tensor]:
        if self.channels_last:
            for key in ("image", "mask"):
                if key in batch:
                    layout = torch.channels_last if batch[key].ndim == 4 else torch.channels_last_3d
                    batch[key] = batch[key].contiguous(memory_format=layout)
        return batch
