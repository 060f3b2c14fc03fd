"""Trainer options for GPUs: their auto values, channels-last batches and the SLURM process layout."""

import pytest
import torch

from sciimg.data.dataset import StoreDataModule, StoreDataset
from sciimg.errors import ConfigError
from sciimg.tasks.fit import cluster_environment, fit, resolve_auto, training_hash

AUTO = {"accelerator": "auto", "precision": "auto", "pin_memory": "auto", "channels_last": "auto"}


def test_auto_options_are_plain_float32_on_a_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    resolved = resolve_auto(AUTO)
    assert resolved["precision"] == "32-true" and not resolved["pin_memory"] and not resolved["channels_last"]


def test_auto_options_on_a_bf16_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    resolved = resolve_auto(AUTO)
    assert resolved["precision"] == "bf16-mixed" and resolved["pin_memory"] and resolved["channels_last"]
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_auto({**AUTO, "channels_last": False})["precision"] == "32-true"
    assert resolve_auto({**AUTO, "channels_last": False})["channels_last"] is False


def test_execution_options_do_not_change_the_training_hash(tiny_spec):
    moved = {**tiny_spec, "trainer": {**tiny_spec["trainer"], "devices": 4, "num_workers": 8, "strategy": "ddp"}}
    assert training_hash(moved) == training_hash(tiny_spec)
    longer = {**tiny_spec, "trainer": {**tiny_spec["trainer"], "max_epochs": 9}}
    assert training_hash(longer) != training_hash(tiny_spec)
    compressed_otherwise = {**tiny_spec, "compress": {"width": 0.25, "max_loss": 0.05}}
    assert training_hash(compressed_otherwise) == training_hash(tiny_spec)  # compress trains a student after it


def test_a_network_with_other_layers_never_resumes_a_checkpoint_of_the_same_config(tiny_spec):
    from torch import nn

    same = training_hash(tiny_spec, nn.Linear(3, 2))
    assert same == training_hash(tiny_spec, nn.Linear(3, 2))
    assert training_hash(tiny_spec, nn.Linear(4, 2)) != same


def test_channels_last_trains_like_the_default_layout(tmp_path, tiny_stores, tiny_spec):
    stores = tiny_stores["train"].parent
    plain, _ = fit(tiny_spec, stores, tmp_path / "plain")
    last_spec = {**tiny_spec, "trainer": {**tiny_spec["trainer"], "channels_last": True}}
    last, _ = fit(last_spec, stores, tmp_path / "last")
    data = StoreDataModule(str(tiny_stores["train"]), str(tiny_stores["val"]), batch_size=8, channels_last=True)
    data.setup("fit")
    batch = data.on_after_batch_transfer(next(iter(data.val_dataloader())), 0)
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    conv = next(m for m in last.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    # channels-last convolutions round differently; Adam carries that into the weights, so compare
    # what the two models predict after two epochs
    images = torch.stack([StoreDataset(tiny_stores["val"])[i]["image"] for i in range(32)])
    with torch.no_grad():
        a, b = plain.eval()(images), last.eval()(images.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(b, a, rtol=0, atol=2e-3)
    assert (a - b).abs().max() < 0.01 * a[:, 0].std()


def test_slurm_layout_must_match_the_devices(monkeypatch):
    trainer = {"devices": 2, "num_nodes": 1}
    monkeypatch.setenv("SLURM_JOB_NAME", "fit")
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "3")
    monkeypatch.setenv("SLURM_NTASKS", "3")
    with pytest.raises(ConfigError, match=r"SLURM started 3 tasks; trainer.devices x trainer.num_nodes must match"):
        cluster_environment(trainer)
    monkeypatch.setenv("SLURM_NTASKS", "2")
    assert type(cluster_environment(trainer)).__name__ == "SLURMEnvironment"
    monkeypatch.setenv("SLURM_NTASKS", "1")  # one task holding both devices: Lightning starts the processes
    assert type(cluster_environment(trainer)).__name__ == "LightningEnvironment"
    monkeypatch.delenv("SLURM_NTASKS")
    assert cluster_environment(trainer) is None
