"""RegressionTask: trains, checkpoints with primitives only, reloads without arguments."""

import math

import lightning as L
import numpy as np
import pytest
import torch

from sciimg.tasks import RegressionTask
from sciimg.tasks.fit import fit


def test_checkpoint_reloads_without_arguments(tmp_path, tiny_stores, tiny_spec):
    task, best = fit(tiny_spec, tiny_stores["train"].parent, tmp_path / "checkpoints")
    assert best.name == "best.ckpt" and (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt", "spec_hash.txt"}
    loaded = RegressionTask.load_from_checkpoint(best)
    assert loaded.hparams.backbone == "resnet18" and loaded.hparams.heteroscedastic
    x = torch.randn(3, 1, 21, 21)
    task.eval()
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), task(x))
    checkpoint = torch.load(best, weights_only=False)
    for value in checkpoint["hyper_parameters"].values():
        assert isinstance(value, (str, int, float, bool, list, dict, type(None)))


def test_training_lowers_the_validation_loss(tmp_path, tiny_stores, tiny_spec):
    spec = {**tiny_spec, "trainer": {**tiny_spec["trainer"], "max_epochs": 4}}
    fit(spec, tiny_stores["train"].parent, tmp_path / "ck")
    rows = np.genfromtxt(tmp_path / "logs" / "metrics.csv", delimiter=",", names=True)
    val = rows["val_loss"][~np.isnan(rows["val_loss"])]
    assert len(val) == 4 and val.min() < val[0]


def test_same_seed_gives_the_same_weights_on_cpu(tmp_path, tiny_stores, tiny_spec):
    first, _ = fit(tiny_spec, tiny_stores["train"].parent, tmp_path / "a")
    second, _ = fit(tiny_spec, tiny_stores["train"].parent, tmp_path / "b")
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_heteroscedastic_output_decodes_to_physical_units():
    L.seed_everything(0)
    task = RegressionTask(backbone="vgg11", backbone_options={"widths": [2] * 5}, heteroscedastic=True)
    mean = torch.tensor([0.0, 1.0])
    value, std = task.decode(mean, torch.tensor([0.1, 0.1]))
    torch.testing.assert_close(value, torch.tensor([1.0, 10.0]))
    torch.testing.assert_close(std, value * math.log(10) * 0.1)
    out = task.predict_step({"image": torch.randn(4, 1, 16, 16)})
    assert out["prediction"].shape == (4,) and torch.all(out["std"] > 0)


def test_unknown_optimizer_is_rejected():
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adam', 'adamw', 'sgd'\], got 'rmsprop'"):
        RegressionTask(optimizer="rmsprop")


def test_checkpoints_of_another_spec_are_not_resumed(tmp_path, tiny_stores, tiny_spec):
    fit(tiny_spec, tiny_stores["train"].parent, tmp_path / "ck")
    first = (tmp_path / "ck" / "last.ckpt").stat().st_mtime_ns
    fit(tiny_spec, tiny_stores["train"].parent, tmp_path / "ck")  # same spec: resumes, trains no more
    assert (tmp_path / "ck" / "last.ckpt").stat().st_mtime_ns == first
    wider = {
        **tiny_spec,
        "model": {**tiny_spec["model"], "backbone_options": {"widths": [8, 8], "blocks_per_stage": [1, 1]}},
    }
    task, _ = fit(wider, tiny_stores["train"].parent, tmp_path / "ck")  # new architecture: starts over
    assert task.hparams.backbone_options["widths"] == [8, 8]
