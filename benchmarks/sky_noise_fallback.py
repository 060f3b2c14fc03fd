"""How much a sky denoiser loses on images without gain and read noise (an accuracy check, not a speed one).

For each test image of a sky denoising experiment, the trained model denoises the FITS file
as a user would (``predict_file``) twice: as written (the simulator's GAIN and RDNOISE cards)
and with those cards removed, so an Anscombe-scale model falls back to the standardised
scale (constant noise). Then twice more as a raw CCD frame: a bias of ``--bias`` ADU in the
pixels and a 16-column overscan strip on the left, once with its ``BIASSEC`` card (the
pedestal is taken from the strip) and once without (the bias counts as sky electrons, so the
noise is taken too high). All are scored against the simulator's clean truth with the
evaluation's PSNR (:func:`sciimg.evaluate.sky_denoise.tile_scores`, whole images in units of
their own noise), the raw frames after removing strip and bias. A model trained on the
standardised scale scores the same each time.

Run after the experiment (``snakemake --configfile ...``)::

    python benchmarks/sky_noise_fallback.py --workdir . --experiment sky_denoise
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from sciimg.data.sky_scale import GAIN_CARDS, READ_NOISE_CARDS, noise_level
from sciimg.evaluate.sky_denoise import tile_scores
from sciimg.inference.load import load_model
from sciimg.io.fits import TRUTH_SUFFIX
from sciimg.io.store import SampleStore


def without_noise_cards(path: Path, folder: Path) -> Path:
    """A copy of a FITS image without any gain or read-noise card."""
    with fits.open(path) as hdus:
        for hdu in hdus:
            for card in GAIN_CARDS + READ_NOISE_CARDS:
                hdu.header.remove(card, ignore_missing=True, remove_all=True)
        copy = folder / path.name
        hdus.writeto(copy)
    return copy


OVERSCAN_COLUMNS = 16


def raw_frame(path: Path, folder: Path, bias: float, with_section: bool) -> Path:
    """A copy of a simulated image as a raw CCD frame: ``bias`` ADU added, an overscan strip on the left."""
    with fits.open(path) as hdus:
        header = hdus[0].header.copy()
        image = hdus[0].data.astype(np.float64)
    rng = np.random.default_rng(0)
    strip = bias + rng.normal(0.0, header["RDNOISE"] / header["GAIN"], (image.shape[0], OVERSCAN_COLUMNS))
    if with_section:
        header["BIASSEC"] = f"[1:{OVERSCAN_COLUMNS},1:{image.shape[0]}]"
    for key in ("CRPIX1", "SATURATE"):
        if key in header:
            header[key] += OVERSCAN_COLUMNS if key == "CRPIX1" else bias
    copy = folder / f"raw_{with_section}_{path.name}"
    fits.PrimaryHDU(np.hstack([strip, image + bias]).astype(np.float32), header).writeto(copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--experiment", default="sky_denoise")
    parser.add_argument("--bias", type=float, default=300.0, help="ADU added to the raw frames")
    args = parser.parse_args()
    workdir, experiment = args.workdir, args.experiment
    model = load_model(workdir / "results" / experiment / "model")
    test = SampleStore(workdir / "data" / "interim" / experiment / "test.h5")
    names = sorted(set(test.extra()["files"][np.unique(test.meta()["file"])]))
    raw = workdir / "data" / "raw" / experiment / "simulated_fits"
    labels = ("noisy input", "with cards", "without cards", "raw with biassec", "raw without biassec")
    scores: dict[str, list[float]] = {label: [] for label in labels}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in names:
            image = raw / name
            noisy = fits.getdata(image).astype(np.float64)
            truth = fits.getdata(image.with_name(image.name.replace(".fits", TRUTH_SUFFIX)), "CLEAN")
            background, sigma = noise_level(noisy)
            usable = np.isfinite(noisy) & np.isfinite(truth)
            scores["noisy input"].append(tile_scores(noisy, truth, usable, background, sigma)[0])
            for label, source in (("with cards", image), ("without cards", without_noise_cards(image, folder))):
                out = folder / f"{label.replace(' ', '_')}_{name}"
                denoised = fits.getdata(model.predict_file(source, out)).astype(np.float64)
                scores[label].append(tile_scores(denoised, truth, usable, background, sigma)[0])
            for label, section in (("raw with biassec", True), ("raw without biassec", False)):
                out = folder / f"{label.replace(' ', '_')}_{name}"
                frame = raw_frame(image, folder, args.bias, section)
                denoised = fits.getdata(model.predict_file(frame, out)).astype(np.float64)
                denoised = denoised[:, OVERSCAN_COLUMNS:] - args.bias
                scores[label].append(tile_scores(denoised, truth, usable, background, sigma)[0])
    result = {
        "experiment": experiment,
        "pixel_scale": model.metadata["sky"]["pixel_scale"],
        "test_images": len(names),
        **{f"psnr_{k.replace(' ', '_')}_db": round(float(np.mean(v)), 3) for k, v in scores.items()},
    }
    for label in ("without_cards", "raw_with_biassec", "raw_without_biassec"):
        result[f"loss_{label}_db"] = round(result["psnr_with_cards_db"] - result[f"psnr_{label}_db"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
