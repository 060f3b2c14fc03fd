"""Training order that depends only on (seed, epoch): the same for 1 or N processes, resumable mid-epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler[tuple[int, int]]):
    """Shuffled ``(epoch, index)`` keys of one process's share of a dataset.

    The permutation is a function of ``seed`` and ``epoch`` only. Process ``rank`` of
    ``num_replicas`` takes every ``num_replicas``-th key from position ``rank`` (the epoch is
    padded by wrapping round, as torch's DistributedSampler does), so per-process batches of
    ``B / num_replicas`` together hold exactly the keys of one single-process batch of ``B``.
    The dataset derives its augmentation from the key, so which process serves a sample
    does not change it.

    Args:
        size: samples in the dataset.
        seed: shuffling seed (the experiment's seed).
        num_replicas: processes sharing the epoch.
        rank: this process's rank.
    """

    def __init__(self, size: int, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank!r}")
        self.size, self.seed = size, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self.skip = 0  # keys of the current epoch already trained on (set when resuming)

    def __len__(self) -> int:
        return math.ceil(self.size / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch``; the resume offset only survives if the epoch does not change."""
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def keys(self) -> list[tuple[int, int]]:
        """This process's keys for the current epoch, in order."""
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        total = len(self) * self.num_replicas
        order = np.resize(order, total)  # wraps round to pad
        return [(self.epoch, int(i)) for i in order[self.rank :: self.num_replicas]]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        keys, self.skip = self.keys()[self.skip :], 0
        return iter(keys)


class ResumableLoader(DataLoader):
    """A DataLoader over an :class:`EpochSampler` whose position Lightning saves in checkpoints.

    ``state_dict`` records the epoch and how many batches of it were handed out; Lightning
    stores it with every checkpoint and calls ``load_state_dict`` before iterating again,
    so a run stopped mid-epoch continues with the batch after the last one trained.
    """

    def __init__(self, dataset: Any, sampler: EpochSampler, batch_size: int, **kwargs: Any) -> None:
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, **kwargs)
        self.served = 0

    def __iter__(self) -> Iterator[Any]:
        sampler: EpochSampler = self.sampler
        self.served = sampler.skip // self.batch_size
        for batch in super().__iter__():
            self.served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches": self.served, "seed": self.sampler.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler: EpochSampler = self.sampler
        if state["seed"] != sampler.seed:
            raise ValueError(f"the checkpoint was trained with seed {state['seed']}, not {sampler.seed}")
        if state["batches"] >= len(self):  # the epoch was finished: the next one starts afresh
            sampler.epoch, sampler.skip = state["epoch"] + 1, 0
        else:
            sampler.epoch, sampler.skip = state["epoch"], state["batches"] * self.batch_size
