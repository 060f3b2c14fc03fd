"""Sky cleaning: labels from the truth masks, holes for the inpainter, the clean step, threshold calibration."""

import numpy as np
import pytest
import torch
from astropy.io import fits

from sciimg.config import validate_config
from sciimg.data.sky_dataset import SkyCleaningDataset
from sciimg.errors import InputError
from sciimg.inference.sky_clean import calibrate_threshold
from sciimg.io.fits import TRUTH_SUFFIX
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import ARTEFACT_CODES, artefact_holes
from sciimg.kinds import ingest
from sciimg.predictors.cleaning import grow
from sciimg.simulate.sky import simulate_sky_folder
from sciimg.tasks.cleaning import CleaningTask

ARTEFACTS = {"cosmic_rays_per_mpix": [3000, 3000], "hot_pixel_fraction": 0.002, "bad_columns": [1, 1]}
SMALL_UNET = {"encoder": "resnet18", "encoder_options": {"widths": [4, 8], "blocks_per_stage": [1, 1]}}


def clean_spec(**data):
    spec = {
        "modality": "sky",
        "task": "cleaning",
        "seed": 1,
        "data": {
            "simulate": {"n_images": 5},
            "split": {"train": 0.6, "val": 0.2, "test": 0.2},
            "tile_size": 32,
            "patch_size": 16,
            **data,
        },
        "model": {"backbone_options": SMALL_UNET, "inpaint_backbone_options": SMALL_UNET},
    }
    return validate_config({"experiments": {"sky": spec}})["experiments"]["sky"]


@pytest.fixture(scope="module")
def clean_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("sky_clean")
    folder = simulate_sky_folder(root / "raw", 5, seed=5, shape=[40, 50], stars=[5, 10], galaxies=[1, 2], **ARTEFACTS)
    return folder, ingest([str(folder)], root / "stores", clean_spec())


def test_labels_are_the_truth_masks_of_each_tile(clean_stores):
    folder, stores = clean_stores
    store = SampleStore(stores["train"])
    assert store.keys == ["image", "target", "mask", "labels"] and store.attrs["mask_dilation"] == 1
    meta, names = store.meta(), store.extra()["files"]
    seen = set()
    for row in range(len(store)):
        labels = store[row]["labels"][0]
        y0, x0 = meta["y0"][row], meta["x0"][row]
        with fits.open(folder / names[meta["file"][row]].replace(".fits", TRUTH_SUFFIX)) as truth:
            for name, kind in (("CRMASK", "cosmic_ray"), ("BADMASK", "defect"), ("SATMASK", "saturated")):
                mask = truth[name].data[y0 : y0 + 32, x0 : x0 + 32].astype(bool)
                np.testing.assert_array_equal(labels[mask], ARTEFACT_CODES[kind])
        seen |= set(np.unique(labels).tolist())
    assert {0, 1, 2} <= seen


def test_items_grow_the_artefacts_into_holes_and_ignore_saturation(clean_stores):
    _, stores = clean_stores
    val = SkyCleaningDataset(stores["val"])
    labels = SampleStore(stores["val"])[0]["labels"][0]
    item = val[0]
    artefacts = (labels >= 1) & (labels <= 3)
    np.testing.assert_array_equal(item["labels"][0].numpy() == 1, artefacts)
    np.testing.assert_array_equal(item["label_valid"][0].numpy(), labels != ARTEFACT_CODES["saturated"])
    np.testing.assert_array_equal(item["holes"][0].numpy(), artefact_holes(labels, 1))
    assert item["holes"][0].sum() > artefacts.sum()  # grown by a pixel
    train = SkyCleaningDataset(stores["train"], train=True, patch_size=16, extra_holes_per_mpix=2e4)
    first, again = train[(0, 0)], train[(0, 0)]
    assert torch.equal(first["holes"], again["holes"]) and first["image"].shape == (1, 16, 16)


def test_cleaning_needs_truth_masks(tmp_path):
    folder = simulate_sky_folder(tmp_path / "raw", 3, seed=1, shape=[32, 32], stars=[2, 3], galaxies=[0, 0])
    for truth in folder.glob(f"*{TRUTH_SUFFIX}"):
        with fits.open(truth) as hdul:
            fits.HDUList([h for h in hdul if h.name != "SATMASK"]).writeto(truth, overwrite=True)
    with pytest.raises(InputError, match="SATMASK"):
        ingest([str(folder)], tmp_path / "stores", clean_spec(split={"train": 0.34, "val": 0.33, "test": 0.33}))


def test_clean_step_keeps_every_pixel_it_does_not_flag():
    torch.manual_seed(0)
    task = CleaningTask(backbone_options=SMALL_UNET, inpaint_backbone_options=SMALL_UNET).eval()
    image = torch.randn(1, 1, 24, 24)
    usable = torch.ones_like(image)
    usable[0, 0, 3, 4] = 0
    with torch.no_grad():
        nothing = task.predictor.clean(image, usable, threshold=1.0, dilation=1)
        everything = task.predictor.clean(image, usable, threshold=-1.0, dilation=0)
    only_bad = torch.zeros_like(image, dtype=torch.bool)
    only_bad[0, 0, 3, 4] = True
    assert torch.equal(nothing["mask"], only_bad)  # probabilities never exceed 1: only the bad pixel is filled
    assert torch.equal(nothing["cleaned"][~only_bad], image[~only_bad])
    assert nothing["cleaned"][only_bad] != image[only_bad]
    assert everything["mask"].all() and not torch.equal(everything["cleaned"], image)


def test_grow_adds_every_neighbour_in_2d_and_3d():
    mask = torch.zeros(1, 1, 7, 7, dtype=torch.bool)
    mask[0, 0, 3, 3] = True
    assert grow(mask, 1).sum() == 9 and grow(mask, 2).sum() == 25 and torch.equal(grow(mask, 0), mask)
    volume = torch.zeros(1, 1, 5, 5, 5, dtype=torch.bool)
    volume[0, 0, 2, 2, 2] = True
    assert grow(volume, 1, spatial_dims=3).sum() == 27


def test_calibrated_threshold_flags_the_target_share_of_clean_pixels(clean_stores):
    _, stores = clean_stores
    torch.manual_seed(0)
    task = CleaningTask(backbone_options=SMALL_UNET, inpaint_backbone_options=SMALL_UNET)
    calibration = calibrate_threshold(task, stores["val"], target_fpr=0.01)
    store = SampleStore(stores["val"])
    clean_pixels = sum((store[row]["labels"] == 0).sum() for row in range(len(store)))
    assert calibration["val_fpr"] <= 0.01 and calibration["val_fpr"] >= 0.01 - 2 / clean_pixels
    assert 0 < calibration["threshold"] < 1 and calibration["val_pixels"] > 0
