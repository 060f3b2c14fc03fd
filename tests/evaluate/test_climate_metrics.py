"""Field baselines and metrics: latitude weights, great-circle neighbours, kriging on a smooth field."""

import numpy as np
import pytest
import torch

from sciimg.baselines.climate_infill import Biharmonic, ClimatologyFill, InverseDistance, Kriging, is_global
from sciimg.baselines.climate_kriging import Covariance
from sciimg.evaluate.climate import compare, field_scores
from sciimg.nets.partial_conv import NormalisedConvolutionFill, PartialConvUNet


def test_rmse_and_bias_are_weighted_by_cell_area():
    lat = np.array([0.0, 60.0])  # cos = 1 and 0.5
    truth = np.zeros((2, 2, 1))
    prediction = truth.copy()
    prediction[:, 0] = 1.0  # error 1 at the equator
    prediction[:, 1] = 3.0  # error 3 at 60N
    scored = np.ones_like(truth, bool)
    scores = field_scores(prediction, truth, scored, lat)
    assert scores["rmse"] == pytest.approx(np.sqrt((1 * 1 + 0.5 * 9) / 1.5))
    assert scores["bias"] == pytest.approx((1 + 0.5 * 3) / 1.5)
    assert scores["area_mean_rmse"] == pytest.approx((1 + 0.5 * 3) / 1.5)


def test_comparison_checks_every_target():
    methods = {
        "cnn": {"rmse": 0.2, "area_mean_r": 0.995},
        "kriging": {"rmse": 0.4},
        "biharmonic": {"rmse": 0.5},
    }
    result = compare(methods, "cnn")
    assert result["best_classical"] == "kriging" and result["rmse_ratio_to_best_classical"] == pytest.approx(0.5)
    assert result["targets_met"]
    methods["cnn"]["area_mean_r"] = 0.98
    assert not compare(methods, "cnn")["targets_met"]


def smooth_field(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
    return np.cos(2 * la) * np.sin(lo) + 0.5 * np.sin(la) * np.cos(2 * lo)


def test_classical_fills_beat_climatology_on_a_smooth_global_field():
    lat, lon = np.arange(-87.5, 90, 5.0), np.arange(2.5, 360, 5.0)
    truth = smooth_field(lat, lon)
    observed = np.random.default_rng(0).random(truth.shape) < 0.3
    anomaly = np.where(observed, truth, np.nan)
    kriging = Kriging()
    kriging.kriging.covariances = {"gaussian": Covariance("gaussian", 0.5, 4000.0, 1e-4, 0.0)}
    kriging.choose("gaussian", 1)
    errors = {}
    for name, method in (("climatology", ClimatologyFill()), ("idw", InverseDistance()),
                         ("biharmonic", Biharmonic()), ("kriging", kriging)):  # fmt: skip
        filled = method.fill_window(anomaly[None], observed[None], lat, lon, (0, 1))
        np.testing.assert_allclose(filled[observed], truth[observed], atol=1e-6)  # observed cells kept
        errors[name] = np.sqrt(((filled - truth)[~observed] ** 2).mean())
    assert max(errors["idw"], errors["biharmonic"], errors["kriging"]) < 0.25 * errors["climatology"], errors


def test_inverse_distance_uses_great_circle_neighbours_across_the_date_line():
    lat, lon = np.array([0.0]), np.array([1.0, 90.0, 180.0, 270.0, 359.0])
    anomaly = np.array([[np.nan, 0.0, 0.0, 0.0, 5.0]])
    observed = np.isfinite(anomaly)
    filled = InverseDistance(k=1).fill(anomaly, observed, lat, lon)
    assert filled[0, 0] == 5.0  # 359E is 2 degrees from 1E
    assert is_global(np.arange(2.5, 360, 5.0)) and not is_global(np.arange(-20, 40, 2.5))


def test_partial_convolutions_ignore_values_under_the_mask():
    torch.manual_seed(0)
    net = PartialConvUNet(2, 3, 1, widths=[4, 8, 8], strides=[1, 2, 2])
    torch.nn.init.normal_(net.decoder[-1].conv.conv.weight)  # it starts at zero
    x = torch.randn(2, 3, 21, 30)
    mask = (torch.rand(2, 1, 21, 30) > 0.6).float()
    changed = x.clone()
    changed[mask.expand_as(x) == 0] = 100.0
    assert net(x, mask).abs().sum() > 0
    torch.testing.assert_close(net(x, mask), net(changed, mask))
    fill = NormalisedConvolutionFill(1.0, min_weight=1e-4)
    constant = torch.full((1, 1, 8, 8), 3.0)
    sparse = torch.zeros(1, 1, 8, 8)
    sparse[0, 0, 2, 5] = 1.0
    torch.testing.assert_close(fill(constant * sparse, sparse), constant)  # one observation fills everything
