"""Inpainting with a std per filled cell: the heteroscedastic head and its Gaussian likelihood."""

import torch

from sciimg.tasks.dense import InpaintingTask

STEPS = 150


def batch(n: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    image = torch.randn(n, 3, 16, 16)
    mask = (torch.rand(n, 3, 16, 16) > 0.5).float()
    target = 3.0 * torch.randn(n, 1, 16, 16)  # errors far larger than the std the head starts with (1)
    return {"image": image * mask, "mask": mask, "target": target, "valid": torch.ones(n, 1, 16, 16, dtype=bool)}


def task(heteroscedastic: bool) -> InpaintingTask:
    torch.manual_seed(1)
    options = {"widths": [4, 8]}
    return InpaintingTask(in_channels=3, backbone_options=options, prefill_sigma=1.0, heteroscedastic=heteroscedastic)


def test_the_std_is_zero_where_observed_and_positive_in_the_gaps():
    data = batch()
    result = task(True).predictor.predict(data)
    seen = data["mask"][:, 1:2].bool()
    assert result["std"].shape == result["prediction"].shape == (4, 1, 16, 16)
    assert (result["std"][seen] == 0).all() and (result["std"][~seen] > 0).all()
    torch.testing.assert_close(result["prediction"][seen], data["image"][:, 1:2][seen])
    assert "std" not in task(False).predictor.predict(data)


def test_the_likelihood_loss_trains_the_std_towards_the_errors():
    data = batch()
    model = task(True)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(STEPS):
        optimiser.zero_grad()
        loss = model.loss_terms(model.cell_losses(model(data["image"], data["mask"]), data["target"]), data)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        result = model.predictor.predict(data)
    gaps = data["mask"][:, 1:2] == 0
    error = (result["prediction"] - data["target"])[gaps]
    spread = result["std"][gaps]
    ratio = float(spread.pow(2).mean().sqrt() / error.pow(2).mean().sqrt())
    assert 0.6 < ratio < 1.6, ratio  # the std has learnt the size of the errors it makes
