"""`sciimg compress`: narrower students, distillation toward the original, and the publish-or-not rule."""

import json

import pytest
import torch

from sciimg.compress import compress, narrow, relative_loss, student_spec
from sciimg.data.dataset import StoreDataset
from sciimg.errors import ConfigError
from sciimg.inference.export import WEIGHTS, export_trained, file_sha256, read_card
from sciimg.inference.load import load_regressor
from sciimg.tasks.fit import fit
from sciimg.tasks.regression import RegressionTask


def test_narrow_scales_every_widths_list_to_multiples_of_four():
    options = {
        "encoder": "resnet18",
        "encoder_options": {"widths": [16, 32, 64], "blocks_per_stage": [1, 1, 1]},
        "widths": [24, 48, 96, 6],
    }
    narrowed, count = narrow(options, 0.5)
    assert count == 2
    assert narrowed["encoder_options"] == {"widths": [8, 16, 32], "blocks_per_stage": [1, 1, 1]}
    assert narrowed["widths"] == [12, 24, 48, 4]  # never below 4 channels
    assert options["widths"] == [24, 48, 96, 6]  # the original options are left as they were


def test_a_model_without_widths_cannot_be_narrowed(tiny_spec):
    spec = {**tiny_spec, "model": {"backbone": "resnet18"}}
    with pytest.raises(ConfigError, match="widths"):
        student_spec(spec, {"width": 0.5}, "0" * 64)


def test_relative_loss_knows_which_side_is_better():
    assert relative_loss(0.40, 0.42, "lower") == pytest.approx(0.05)  # resolution got worse
    assert relative_loss(0.80, 0.76, "higher") == pytest.approx(0.05)  # efficiency got worse
    assert relative_loss(0.80, 0.84, "higher") == pytest.approx(-0.05)  # better: a negative loss


def regression_task(widths: list[int]) -> RegressionTask:
    return RegressionTask(
        backbone="resnet18",
        backbone_options={"widths": widths, "blocks_per_stage": [1, 1], "norm": "group"},
        in_channels=2,
        heteroscedastic=True,
    )


class NoTargetLoss(torch.nn.Module):
    """A task loss of zero: the student then learns from the teacher alone."""

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return torch.zeros(())


def test_distillation_adds_the_distance_to_the_teachers_outputs_and_pulls_the_student_to_them():
    torch.manual_seed(0)
    teacher = regression_task([16, 32]).predictor.eval()
    student = regression_task([4, 8])
    batch = {"image": torch.randn(16, 2, 24, 24), "target": 10 ** torch.rand(16)}
    plain = student.step(batch, "train").item()
    student.distil_from(teacher, weight=3.0)
    with torch.no_grad():
        distance = torch.nn.functional.mse_loss(student.predictor(batch["image"]), teacher(batch["image"])).item()
    student.train()
    assert student.training_step(batch, 0).item() == pytest.approx(plain + 3.0 * distance, rel=1e-5)
    assert not student.distil_terms  # consumed by the step
    student.eval()
    student.validation_step(batch, 0)
    assert not student.distil_terms  # validation is scored on the targets alone

    # trained on the distance alone, the student moves toward the teacher's outputs
    student.train()
    student.loss = NoTargetLoss()
    optimiser = torch.optim.Adam(student.predictor.parameters(), lr=3e-3)
    for _ in range(60):
        optimiser.zero_grad()
        student.training_step(batch, 0).backward()
        optimiser.step()
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(student.predictor(batch["image"]), teacher(batch["image"])).item()
    assert after < 0.2 * distance
    assert not any(name.startswith("teacher") for name in student.state_dict())  # not in the checkpoint


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, tiny_stores, tiny_spec):
    """The tiny energy model, trained and exported as `sciimg fit` does."""
    work = tmp_path_factory.mktemp("teacher")
    task, _ = fit(tiny_spec, tiny_stores["train"].parent, work / "checkpoints")
    return export_trained(task, tiny_stores["train"].parent, tiny_spec, "tiny_energy", work / "model")


def test_compress_publishes_a_narrower_model_that_keeps_the_headline_metric(
    tmp_path, trained_model, tiny_stores, tiny_spec
):
    before = file_sha256(trained_model / WEIGHTS)
    spec = {**tiny_spec, "compress": {"width": 0.5, "max_epochs": 1, "max_loss": 100.0}}
    stores = tiny_stores["train"].parent
    report = compress(spec, "tiny_energy", trained_model, stores, tmp_path / "ckpt", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "compression.json").read_text()) == report
    assert report["published"] and report["headline"] == {"metric": "resolution_all", "better": "lower"}
    original, student = report["original"]["metrics"], report["compressed"]["metrics"]
    assert report["headline_loss"] == pytest.approx(
        relative_loss(original["resolution_all"], student["resolution_all"], "lower")
    )
    assert report["compressed"]["parameters"] < report["original"]["parameters"]
    assert report["speedup"] > 0
    # the published model is a regressor of its own, with the narrower network, scored on validation
    card = read_card(tmp_path / "out" / "model")
    assert card["predictor_options"]["backbone_options"]["widths"] == [4, 4]
    assert card["distilled_from"]["teacher_weights_sha256"] == before and card["distilled_from"]["width"] == 0.5
    regressor = load_regressor(tmp_path / "out" / "model")
    images = torch.stack([StoreDataset(tiny_stores["val"])[i]["image"] for i in range(4)])
    with torch.no_grad():
        assert regressor.network(images).shape == (4, 2)  # log10 energy and its log variance
    assert file_sha256(trained_model / WEIGHTS) == before  # the original is never touched


def test_compress_keeps_a_model_that_loses_too_much_unpublished(tmp_path, trained_model, tiny_stores, tiny_spec):
    # max_loss -1: the student would have to be perfect (resolution 0) to be published
    spec = {**tiny_spec, "compress": {"width": 0.5, "max_epochs": 1, "max_loss": -1.0}}
    report = compress(spec, "tiny_energy", trained_model, tiny_stores["train"].parent, tmp_path / "c", tmp_path / "o")
    assert not report["published"] and report["headline_loss"] > -1.0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["compression.json"]


def test_compress_must_change_something_and_quantises_window_models_only(
    tmp_path, trained_model, tiny_stores, tiny_spec
):
    stores = tiny_stores["train"].parent
    unchanged = {**tiny_spec, "compress": {"width": 1.0, "quantize": "none"}}
    with pytest.raises(ConfigError, match="change nothing"):
        compress(unchanged, "tiny_energy", trained_model, stores, tmp_path / "c", tmp_path / "o")
    int8 = {**tiny_spec, "compress": {"width": 1.0, "quantize": "int8"}}
    with pytest.raises(ConfigError, match="sliding-window models"):
        compress(int8, "tiny_energy", trained_model, stores, tmp_path / "c", tmp_path / "o")
    assert not (tmp_path / "o").exists()  # nothing half-written
