"""The one-line verdict: the winner only when the paired bootstrap interval of the margin excludes zero."""

import numpy as np
import pytest

from sciimg.evaluate.verdict import f1_figure, mean_figure, ratio_figure, root_ratio_figure, verdict


def test_a_clear_margin_names_the_winner_and_a_small_one_does_not():
    rng = np.random.default_rng(1)
    truth_noise = rng.normal(size=400)
    per_item = {"cnn": 0.5 * np.abs(truth_noise), "rf": np.abs(truth_noise), "idw": 2.0 * np.abs(truth_noise)}
    result = verdict("error", per_item, mean_figure, True, "cnn", ["rf", "idw"], "events")
    assert result["winner"] == "cnn" and result["best_classical"] == "rf"
    assert result["margin"] == pytest.approx(-0.5 * np.abs(truth_noise).mean())
    low, high = result["margin_ci95"]
    assert low < result["margin"] < high < 0
    assert result["text"].startswith("cnn wins on error (lower is better)") and "on 400 test events" in result["text"]
    close = {"cnn": rng.normal(1.0, 1.0, 30), "rf": rng.normal(1.0, 1.0, 30)}
    tie = verdict("psnr", close, mean_figure, False, "cnn", ["rf"], "tiles")
    assert tie["winner"] is None and tie["text"].startswith("no clear winner")
    assert tie["margin_ci95"][0] < 0 < tie["margin_ci95"][1]


def test_groups_are_resampled_whole_so_shared_errors_widen_the_interval():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(8), 50)
    shared = rng.normal(0, 1.0, 8)[groups]  # the model's error moves with each group (one image, one year)
    per_item = {"model": shared + rng.normal(0, 0.1, 400), "rival": rng.normal(0, 0.1, 400)}
    alone = verdict("bias", per_item, mean_figure, True, "model", ["rival"], "tiles")
    grouped = verdict("bias", per_item, mean_figure, True, "model", ["rival"], "tiles", groups)
    width = {name: np.diff(r["margin_ci95"])[0] for name, r in (("alone", alone), ("grouped", grouped))}
    assert width["grouped"] > 3 * width["alone"]


def test_figures_of_summed_counts():
    rows = np.array([[3.0, 4.0], [1.0, 4.0]])
    assert ratio_figure(rows) == 0.5 and root_ratio_figure(rows) == pytest.approx(np.sqrt(0.5))
    assert f1_figure(np.array([[4, 1, 1], [4, 1, 1]])) == pytest.approx(16 / 20)  # 2 tp / (2 tp + fp + fn)
    lone = verdict("f1", {"model": np.array([[1, 0, 0]])}, f1_figure, False, "model", [], "events")
    assert "no rival ran" in lone["text"] and lone["values"]["model"] == 1.0
