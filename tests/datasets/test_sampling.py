"""EpochSampler and ResumableLoader: the same batches for 1 or N processes, and after a resume."""

import pytest
import torch
from torch.utils.data import Dataset

from sciimg.data.sampling import EpochSampler, ResumableLoader


class Keys(Dataset):
    """Returns the key it is asked for, so batches show exactly what was sampled."""

    def __len__(self) -> int:
        return 40

    def __getitem__(self, key):
        return torch.tensor(key)


def batches(world: int, rank: int, batch: int, epoch: int = 0) -> list[set[int]]:
    sampler = EpochSampler(40, seed=5, num_replicas=world, rank=rank)
    sampler.set_epoch(epoch)
    loader = ResumableLoader(Keys(), sampler, batch_size=batch)
    return [{int(i) for i in b[:, 1]} for b in loader]


def test_two_processes_share_each_single_process_batch():
    single = batches(1, 0, 8)
    halves = [batches(2, r, 4) for r in (0, 1)]
    assert len(single) == len(halves[0]) == len(halves[1]) == 5
    for whole, first, second in zip(single, *halves, strict=True):
        assert first | second == whole and not first & second


def test_order_depends_on_seed_and_epoch_only():
    assert batches(1, 0, 8, epoch=2) == batches(1, 0, 8, epoch=2)
    assert batches(1, 0, 8, epoch=2) != batches(1, 0, 8, epoch=3)
    epoch_keys = EpochSampler(40, seed=5).keys()
    assert {e for e, _ in epoch_keys} == {0} and sorted(i for _, i in epoch_keys) == list(range(40))


def test_loader_resumes_after_the_last_served_batch():
    sampler = EpochSampler(40, seed=5)
    sampler.set_epoch(1)
    loader = ResumableLoader(Keys(), sampler, batch_size=8)
    iterator = iter(loader)
    served = [next(iterator) for _ in range(2)]
    state = loader.state_dict()
    assert state == {"epoch": 1, "batches": 2, "seed": 5}
    rest = list(iterator)

    fresh = ResumableLoader(Keys(), EpochSampler(40, seed=5), batch_size=8)
    fresh.load_state_dict(state)
    fresh.sampler.set_epoch(1)  # Lightning sets the epoch again; the offset stays
    resumed = list(fresh)
    assert len(resumed) == 3 and all(torch.equal(a, b) for a, b in zip(resumed, rest, strict=True))
    assert fresh.state_dict()["batches"] == 5 and len(served) + len(resumed) == len(fresh)


def test_a_finished_epoch_resumes_at_the_next_one():
    loader = ResumableLoader(Keys(), EpochSampler(40, seed=5), batch_size=8)
    loader.load_state_dict({"epoch": 0, "batches": 5, "seed": 5})
    assert loader.sampler.epoch == 1 and len(list(loader)) == 5
    with pytest.raises(ValueError, match="trained with seed 4, not 5"):
        loader.load_state_dict({"epoch": 0, "batches": 1, "seed": 4})
