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
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
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
    value, std = task.predictor.decode(mean, torch.tensor([0.1, 0.1]))
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


@pytest.mark.parametrize(
    ("backbone", "options"),
    [
        ("vgg11", {"widths": [4, 8, 8, 16, 16]}),
        ("inception", {"widths": [8, 16, 16]}),
    ],
)
def test_vgg_and_inception_backbones_train(tmp_path, tiny_stores, tiny_spec, backbone, options):
    model = {**tiny_spec["model"], "backbone": backbone, "backbone_options": options}
    spec = {**tiny_spec, "model": model, "trainer": {**tiny_spec["trainer"], "max_epochs": 3}}
    task, _ = fit(spec, tiny_stores["train"].parent, tmp_path / "ck")
    assert task.hparams.backbone == backbone
    rows = np.genfromtxt(tmp_path / "logs" / "metrics.csv", delimiter=",", names=True)
    train = rows["train_loss"][~np.isnan(rows["train_loss"])]
    assert len(train) == 3 and np.all(np.isfinite(train)) and train[-1] < train[0]


def test_auxiliary_targets_are_learned_alongside_energy(tmp_path, tiny_stores, tiny_spec):
    model = {**tiny_spec["model"], "aux_targets": ["true_impact_distance"], "aux_weight": 0.5}
    augment = {"hex_symmetries": True, "extra_nsb_pe": 0.5}
    spec = {
        **tiny_spec,
        "model": model,
        "data": {**tiny_spec["data"], "augment": augment},
        "trainer": {**tiny_spec["trainer"], "max_epochs": 3},
    }
    task, best = fit(spec, tiny_stores["train"].parent, tmp_path / "ck")
    assert RegressionTask.load_from_checkpoint(best).hparams.aux_targets == ["true_impact_distance"]
    rows = np.genfromtxt(tmp_path / "logs" / "metrics.csv", delimiter=",", names=True)
    aux = rows["train_aux_mse"][~np.isnan(rows["train_aux_mse"])]
    assert len(aux) == 3 and aux[-1] < aux[0]  # standardised impact distance: starts near 1, falls
    out = task.predict_step({"image": torch.zeros(2, 1, 53, 53)})
    assert set(out) == {"prediction", "std"}  # auxiliary outputs are for training only


def test_direction_dependent_aux_targets_conflict_with_rotations(tmp_path, tiny_stores, tiny_spec):
    from sciimg.errors import ConfigError

    model = {**tiny_spec["model"], "aux_targets": ["true_core_x"]}
    spec = {**tiny_spec, "model": model, "data": {**tiny_spec["data"], "augment": {"hex_symmetries": True}}}
    with pytest.raises(ConfigError, match=r"aux_targets \['true_core_x'\] change when the camera is rotated"):
        fit(spec, tiny_stores["train"].parent, tmp_path / "ck")
