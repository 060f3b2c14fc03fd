"""PyTorch Dataset and LightningDataModule over sample-store files."""

from __future__ import annotations

import os

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sciimg.data.transforms import ChannelNormalisation
from sciimg.io.store import SampleStore


class StoreDataset(Dataset):
    """Samples of one store split as dicts of tensors: ``image`` (normalised), ``target``, ``index``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.store = SampleStore(path)
        self.normalisation = ChannelNormalisation.from_list(self.store.attrs["normalisation"])
        extra = self.store.extra()
        self.valid = extra["valid_mask"].astype(bool) if "valid_mask" in extra else None

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.store[index]
        out = {
            "image": torch.from_numpy(self.normalisation(sample["image"], self.valid)),
            "index": torch.tensor(index),
        }
        if "target" in sample:
            out["target"] = torch.as_tensor(np.asarray(sample["target"], np.float32))
        return out


class StoreDataModule(L.LightningDataModule):
    """Train/val/test splits from the ingest rule's store files.

    Args:
        train, val, test: store paths (test optional).
        batch_size: samples per batch.
        num_workers: DataLoader workers; each opens its own HDF5 handle.
    """

    def __init__(
        self,
        train: str,
        val: str,
        test: str | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.paths = {"train": train, "val": val, "test": test}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.datasets: dict[str, StoreDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        for split, path in self.paths.items():
            if path is not None and split not in self.datasets:
                self.datasets[split] = StoreDataset(path)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
