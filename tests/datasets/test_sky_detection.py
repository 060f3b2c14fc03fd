"""Sky detection: truth sources per tile, crop geometry, CenterNet targets, the task's loss and calibration."""

import numpy as np
import pytest
import torch
from astropy.io import fits

from sciimg.config import validate_config
from sciimg.data.ingest_sky import tile_regions
from sciimg.data.sky_dataset import CropTurn
from sciimg.data.sky_detection_dataset import SkyDetectionDataset, render_targets
from sciimg.inference.sky_detect import calibrate_detection_thresholds
from sciimg.io.fits import TRUTH_SUFFIX
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import sources_by_tile
from sciimg.kinds import ingest
from sciimg.simulate.sky import simulate_sky_folder
from sciimg.tasks.detection import DetectionTask, focal_heatmap_loss

SMALL_UNET = {"encoder": "resnet18", "encoder_options": {"widths": [4, 8], "blocks_per_stage": [1, 1]}}


def detect_spec(**data):
    spec = {
        "modality": "sky",
        "task": "detection",
        "seed": 1,
        "data": {
            "simulate": {"n_images": 5},
            "split": {"train": 0.6, "val": 0.2, "test": 0.2},
            "tile_size": 32,
            "patch_size": 16,
            **data,
        },
        "model": {"backbone_options": SMALL_UNET},
    }
    return validate_config({"experiments": {"sky": spec}})["experiments"]["sky"]


@pytest.fixture(scope="module")
def detect_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("sky_detect")
    folder = simulate_sky_folder(root / "raw", 5, seed=9, shape=[40, 50], stars=[10, 15], galaxies=[1, 2])
    return folder, ingest([str(folder)], root / "stores", detect_spec())


def test_each_tile_lists_the_truth_sources_centred_in_it(detect_stores):
    folder, stores = detect_stores
    store = SampleStore(stores["train"])
    assert store.attrs["target_purity"] == 0.99 and "labels" not in store.keys
    meta, names = store.meta(), store.extra()["files"]
    per_tile = sources_by_tile(store)
    assert len(per_tile) == len(store)
    for row, sources in enumerate(per_tile):
        with fits.open(folder / names[meta["file"][row]].replace(".fits", TRUTH_SUFFIX)) as truth:
            table = truth["SOURCES"].data
        y0, x0 = meta["y0"][row], meta["x0"][row]
        y, x = table["y"] - y0, table["x"] - x0
        inside = (y >= -0.5) & (y < 31.5) & (x >= -0.5) & (x < 31.5)
        assert len(sources) == inside.sum() and (sources["tile"] == row).all()
        np.testing.assert_allclose(np.sort(sources["x"]), np.sort(x[inside]), atol=1e-4)
        np.testing.assert_allclose(np.sort(sources["flux"]), np.sort(table["flux"][inside]), rtol=1e-6)
    assert len(tile_regions((40, 50), 32)) == 4  # overlapping tiles: a source near the middle is in several


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_points_follow_the_crop_turn_and_flip_of_the_arrays(turns, flip):
    array = np.zeros((30, 40))
    crop = CropTurn(3, 5, (20, 25), turns, flip)
    for y, x in ((12, 17), (3, 5), (22, 29)):
        array[:] = 0
        array[y, x] = 1
        ty, tx = crop.points(np.array(float(y)), np.array(float(x)))
        assert crop.array(array)[int(ty), int(tx)] == 1


def test_targets_mark_centres_offsets_and_fluxes_and_ignore_faint_sources():
    targets = render_targets(
        (20, 20),
        y=np.array([5.3, 5.4, 12.0]),
        x=np.array([6.8, 6.7, 0.2]),
        log_flux=np.array([2.0, 3.0, 1.0]),
        faint_y=np.array([15.0]),
        faint_x=np.array([15.0]),
        heat_sigma=1.0,
    )
    assert targets["centres"].sum() == 2  # two sources share pixel (5, 7): the brighter keeps it
    assert targets["log_flux"][5, 7] == 3.0 and targets["log_flux"][12, 0] == 1.0
    np.testing.assert_allclose(targets["offset"][:, 5, 7], [0.4, -0.3], atol=1e-6)
    assert targets["heatmap"][5, 7] == 1.0
    assert targets["heatmap"][5, 8] == pytest.approx(np.exp(-(0.3**2 + 1.2**2) / 2), rel=1e-5)  # nearer source
    assert targets["ignore"][15, 15] and targets["ignore"][16, 16] and not targets["ignore"][15, 19]
    assert targets["heatmap"][15, 15] == 0.0


def test_items_hold_one_centre_per_bright_source_in_the_frame(detect_stores):
    _, stores = detect_stores
    dataset = SkyDetectionDataset(stores["val"], min_snr=3.0)
    item = dataset[0]
    sources = dataset.sources[0]
    bright = sources[sources["snr"] >= 3.0]
    pixels = {(round(float(y)), round(float(x))) for y, x in zip(bright["y"], bright["x"], strict=True)}
    assert item["centres"].sum() == len(pixels)
    assert item["image"].shape == (1, 32, 32) and item["offset"].shape == (2, 32, 32)
    train = SkyDetectionDataset(stores["train"], train=True, seed=3, patch_size=16)
    first, again = train[(2, 1)], train[(2, 1)]
    assert first["image"].shape == (1, 16, 16)
    for key in ("image", "heatmap", "centres", "offset"):
        torch.testing.assert_close(first[key], again[key])  # seeded: the same item twice


def test_focal_loss_is_small_for_a_right_heatmap_and_large_for_a_wrong_one():
    heat = torch.zeros(1, 1, 9, 9)
    heat[0, 0, 4, 4] = 1.0
    centres = heat == 1
    counted = torch.ones_like(centres)
    right = torch.where(centres, torch.tensor(6.0), torch.tensor(-6.0))
    assert focal_heatmap_loss(right, heat, centres, counted) < 0.01
    assert focal_heatmap_loss(-right, heat, centres, counted) > 10
    assert focal_heatmap_loss(-right, heat, centres, torch.zeros_like(centres)) == 0  # nothing counted


class ImageAsHeat(torch.nn.Module):
    """A stand-in detector whose heat is the image itself: its peaks are the bright pixels."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([image - 3.0, torch.zeros_like(image).expand(-1, 3, -1, -1)], dim=1)


def test_calibration_reaches_the_target_purity_on_the_validation_tiles(detect_stores):
    _, stores = detect_stores
    loose, result = calibrate_detection_thresholds(ImageAsHeat(), stores["val"], [0.6, 0.9])
    for target, cut in ((0.6, loose), (0.9, result)):
        assert cut["target_purity"] == target and cut["val_detections"] > 0
        assert cut["val_purity"] >= target
    assert loose["val_detections"] >= result["val_detections"]  # a lower purity keeps at least as many
    assert DetectionTask(backbone_options=SMALL_UNET)(torch.zeros(1, 1, 16, 16)).shape == (1, 4, 16, 16)
