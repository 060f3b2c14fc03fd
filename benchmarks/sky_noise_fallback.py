"""How much a sky denoiser loses on images without gain and read noise (an accuracy check, not a speed one).

For each test image of a sky denoising experiment, the trained model denoises the FITS file
as a user would (``predict_file``) twice: as written (the simulator's GAIN and RDNOISE cards)
and with those cards removed, so an Anscombe-scale model falls back to the standardised
scale (constant noise). Both are scored against the simulator's clean truth with the
evaluation's PSNR (:func:`sciimg.evaluate.sky_denoise.tile_scores`, whole images in units of
their own noise). A model trained on the standardised scale scores the same twice.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--experiment", default="sky_denoise")
    args = parser.parse_args()
    workdir, experiment = args.workdir, args.experiment
    model = load_model(workdir / "results" / experiment / "model")
    test = SampleStore(workdir / "data" / "interim" / experiment / "test.h5")
    names = sorted(set(test.extra()["files"][np.unique(test.meta()["file"])]))
    raw = workdir / "data" / "raw" / experiment / "simulated_fits"
    scores: dict[str, list[float]] = {"noisy input": [], "with cards": [], "without cards": []}
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
    result = {
        "experiment": experiment,
        "pixel_scale": model.metadata["sky"]["pixel_scale"],
        "test_images": len(names),
        **{f"psnr_{k.replace(' ', '_')}_db": round(float(np.mean(v)), 3) for k, v in scores.items()},
    }
    result["loss_without_cards_db"] = round(result["psnr_with_cards_db"] - result["psnr_without_cards_db"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
