"""Long-exposure CCD sky images with known truth, written as FITS with a TAN WCS.

Each image has its own seeing and noise drawn from configured ranges:

* PSF: Moffat (beta 2.5-4.5) or Gaussian, FWHM drawn per image, slightly elliptical;
* stars: fluxes from a power law ``dN/dF ~ F^-(alpha+1)``; galaxies: Sersic profiles
  (index, effective radius, axis ratio, angle) convolved with the PSF; all rendered with
  3 x 3 sub-pixel sampling on stamps, so the cost grows with the number of sources, not
  with the image area squared;
* smooth sky with a linear gradient; gain, Poisson and read noise, full-well saturation;
* artefacts that do not pass through the optics (sharp, not PSF-convolved): cosmic rays as
  spots, worms (random walks) and straight tracks at any angle and energy; hot pixels;
  bad columns. Satellite trails do pass through the optics (PSF-wide lines).

Images are in ADU (float32, bias-subtracted, as reduced frames are). Truth goes to a
sidecar ``<name>.truth.fits``: ``CLEAN`` (sky and sources: no noise, cosmic rays, defects or
trails; ADU), ``CRMASK``,
``BADMASK`` (detector defects: hot pixels, bad columns), ``SATMASK`` (saturated pixels),
``TRAILMASK``, and a ``SOURCES``
table (x, y 0-based pixels, RA, Dec, flux in ADU, type, snr). With ``exposures: 2`` a second
exposure of the same scene (same sky, sources, defects; its own Poisson and read noise and
cosmic rays) goes to ``<name>.pair.fits``, as two registered exposures a user would have.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy.signal import fftconvolve
from scipy.special import gammaincinv

from sciimg.io.atomic import atomic_directory
from sciimg.io.fits import PAIR_SUFFIX, TRUTH_SUFFIX

OVERSAMPLE = 3


@dataclass
class SkyOptions:
    """Ranges the simulator draws from (per image unless said otherwise)."""

    shape: tuple[int, int] = (256, 256)
    pixel_scale_arcsec: float = 0.4
    fwhm_px: tuple[float, float] = (2.0, 4.5)
    moffat_fraction: float = 0.7
    stars: tuple[int, int] = (60, 200)
    star_flux_e: tuple[float, float] = (150.0, 3e6)
    star_alpha: float = 0.8
    galaxies: tuple[int, int] = (10, 60)
    galaxy_flux_e: tuple[float, float] = (500.0, 2e5)
    galaxy_radius_px: tuple[float, float] = (1.0, 6.0)
    sky_e: tuple[float, float] = (100.0, 1500.0)
    sky_gradient: float = 0.2
    gain: tuple[float, float] = (1.0, 3.0)
    read_noise_e: tuple[float, float] = (3.0, 10.0)
    full_well_e: float = 1.5e5
    cosmic_rays_per_mpix: tuple[float, float] = (0.0, 0.0)
    hot_pixel_fraction: float = 0.0
    bad_columns: tuple[int, int] = (0, 0)
    trail_probability: float = 0.0
    exptime_s: float = 600.0
    exposures: int = 1  # 2: a second exposure of the same scene with its own noise (Noise2Noise pairs)


def log_uniform(rng: np.random.Generator, low: float, high: float, size: int | None = None) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def power_law(rng: np.random.Generator, low: float, high: float, alpha: float, size: int) -> np.ndarray:
    """Fluxes with ``N(>F) ~ F^-alpha`` between ``low`` and ``high`` (inverse-CDF sampling)."""
    u = rng.uniform(size=size)
    a, b = low**-alpha, high**-alpha
    return (a - u * (a - b)) ** (-1.0 / alpha)


@dataclass
class Psf:
    """An elliptical Moffat (``beta``) or Gaussian (``beta`` None) PSF of a given FWHM (pixels)."""

    fwhm: float
    beta: float | None
    ellipticity: float
    angle: float

    def profile(self, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """Surface brightness (unnormalised) at offsets in pixels."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        u, v = c * dx + s * dy, (-s * dx + c * dy) / (1 - self.ellipticity)
        r2 = u**2 + v**2
        if self.beta is None:
            sigma = self.fwhm / 2.3548
            return np.exp(-r2 / (2 * sigma**2))
        alpha = self.fwhm / (2 * np.sqrt(2 ** (1 / self.beta) - 1))
        return (1 + r2 / alpha**2) ** (-self.beta)

    def radius(self, flux: float, floor: float) -> int:
        """Stamp half-size (pixels) where the profile falls below ``floor`` electrons (3-40 x FWHM)."""
        half = 3 * self.fwhm
        while half < 40 * self.fwhm and flux * self.profile(np.array(half), np.array(0.0)) / self.norm > floor:
            half *= 1.5
        return int(np.ceil(half))

    @property
    def norm(self) -> float:
        """Sum of the profile over the plane (pixels), so ``profile / norm`` integrates to 1."""
        r = int(40 * self.fwhm)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(float)
        return float(self.profile(xx, yy).sum())

    def stamp(self, size: int, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        """Pixel-integrated (3 x 3 sub-samples) unit-flux PSF on a ``(2 size + 1)^2`` stamp centred at ``(dx, dy)``."""
        offsets = (np.arange(OVERSAMPLE) + 0.5) / OVERSAMPLE - 0.5
        grid = np.arange(-size, size + 1, dtype=float)
        total = np.zeros((len(grid), len(grid)))
        for oy in offsets:
            for ox in offsets:
                total += self.profile(grid[None, :] + ox - dx, grid[:, None] + oy - dy)
        return total / (OVERSAMPLE**2 * self.norm)


def sersic_stamp(size: int, n: float, r_eff: float, q: float, angle: float, dx: float, dy: float) -> np.ndarray:
    """Unit-flux Sersic profile, 3 x 3 sub-sampled, on a ``(2 size + 1)^2`` stamp."""
    b = gammaincinv(2 * n, 0.5)
    fine = (np.arange(-size * OVERSAMPLE, (size + 1) * OVERSAMPLE) + 0.5) / OVERSAMPLE - 0.5
    fx, fy = np.meshgrid(fine - dx, fine - dy)
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * fx + s * fy, (-s * fx + c * fy) / q
    image = np.exp(-b * ((np.hypot(u, v) + 0.05) / r_eff) ** (1 / n))
    side = 2 * size + 1
    binned = image.reshape(side, OVERSAMPLE, side, OVERSAMPLE).sum(axis=(1, 3))
    return binned / binned.sum()


def add_stamp(image: np.ndarray, stamp: np.ndarray, yc: int, xc: int) -> None:
    """Add ``stamp`` centred on pixel ``(yc, xc)``, clipped at the image border."""
    half = stamp.shape[0] // 2
    y0, x0 = yc - half, xc - half
    ys = slice(max(y0, 0), min(y0 + stamp.shape[0], image.shape[0]))
    xs = slice(max(x0, 0), min(x0 + stamp.shape[1], image.shape[1]))
    if ys.start < ys.stop and xs.start < xs.stop:
        image[ys, xs] += stamp[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]


def line_pixels(y: float, x: float, length: float, angle: float, width: float, shape: tuple[int, int]):
    """Pixels ``(ys, xs, weights)`` of a straight anti-aliased segment (sampled every 0.25 px)."""
    t = np.arange(0.0, length, 0.25)
    ys, xs = y + t * np.sin(angle), x + t * np.cos(angle)
    offsets = np.arange(-np.ceil(width), np.ceil(width) + 1)
    normal_y, normal_x = np.cos(angle), -np.sin(angle)
    py = np.round(ys[:, None] + offsets[None] * normal_y).astype(int).ravel()
    px = np.round(xs[:, None] + offsets[None] * normal_x).astype(int).ravel()
    w = np.exp(-0.5 * (offsets / max(width / 2, 0.3)) ** 2)
    w = np.broadcast_to(w, (len(t), len(offsets))).ravel() * 0.25
    inside = (py >= 0) & (py < shape[0]) & (px >= 0) & (px < shape[1])
    return py[inside], px[inside], w[inside]


def cosmic_rays(shape: tuple[int, int], rate_per_mpix: float, rng: np.random.Generator) -> np.ndarray:
    """Electrons deposited by cosmic rays: spots (60 %), worms (25 %) and straight tracks (15 %)."""
    deposit = np.zeros(shape)
    n = rng.poisson(rate_per_mpix * shape[0] * shape[1] / 1e6)
    for _ in range(n):
        y, x = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        kind = rng.uniform()
        energy = log_uniform(rng, 800.0, 6e4)
        if kind < 0.6:  # spot: 1-4 pixels
            size = rng.integers(1, 5)
            py = np.clip(int(y) + rng.integers(-1, 2, size), 0, shape[0] - 1)
            px = np.clip(int(x) + rng.integers(-1, 2, size), 0, shape[1] - 1)
            np.add.at(deposit, (py, px), energy * rng.dirichlet(np.ones(size)))
        elif kind < 0.85:  # worm: a random walk of 5-30 steps
            steps = rng.integers(5, 31)
            angles = np.cumsum(rng.normal(0, 0.6, steps)) + rng.uniform(0, 2 * np.pi)
            py = np.clip(np.round(y + np.cumsum(np.sin(angles))).astype(int), 0, shape[0] - 1)
            px = np.clip(np.round(x + np.cumsum(np.cos(angles))).astype(int), 0, shape[1] - 1)
            np.add.at(deposit, (py, px), energy * log_uniform(rng, 0.3, 3.0, steps) / steps)
        else:  # track: a straight line 10-150 px long at any angle
            length = log_uniform(rng, 10.0, 150.0)
            py, px, w = line_pixels(y, x, length, rng.uniform(0, np.pi), rng.uniform(0.5, 1.2), shape)
            np.add.at(deposit, (py, px), w * energy / 10 * rng.uniform(0.5, 2.0))
    return deposit


def tan_wcs(shape: tuple[int, int], pixel_scale_arcsec: float, rng: np.random.Generator) -> WCS:
    """A TAN WCS centred on a random sky position, north up, slightly rotated."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.crval = [rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-0.9, 0.9)))]
    scale, rot = pixel_scale_arcsec / 3600.0, np.radians(rng.uniform(-3, 3))
    wcs.wcs.cd = scale * np.array([[-np.cos(rot), np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    wcs.wcs.radesys = "ICRS"
    return wcs


@dataclass
class SkyImage:
    """One simulated exposure and its truth."""

    image_adu: np.ndarray
    clean_adu: np.ndarray
    cr_mask: np.ndarray
    bad_mask: np.ndarray
    saturated_mask: np.ndarray
    trail_mask: np.ndarray
    sources: Table
    header: fits.Header
    pair_adu: np.ndarray | None = None


def simulate_image(options: SkyOptions, rng: np.random.Generator, name: str = "") -> SkyImage:
    """Draw one exposure (see the module docstring)."""
    o = options
    shape = tuple(o.shape)
    ny, nx = shape
    fwhm = rng.uniform(*o.fwhm_px)
    beta = rng.uniform(2.5, 4.5) if rng.uniform() < o.moffat_fraction else None
    psf = Psf(fwhm, beta, rng.uniform(0, 0.1), rng.uniform(0, np.pi))
    gain, read_noise = rng.uniform(*o.gain), rng.uniform(*o.read_noise_e)
    sky_level = log_uniform(rng, *o.sky_e)
    yy, xx = np.mgrid[0:ny, 0:nx]
    gy, gx = rng.normal(0, o.sky_gradient / np.sqrt(2), 2)
    sky = sky_level * (1 + gy * (yy / ny - 0.5) + gx * (xx / nx - 0.5))
    signal = np.zeros(shape)
    rows = []
    noise_floor = 0.05 * np.sqrt(sky_level + read_noise**2)
    nea = 1.0 / float((psf.stamp(int(4 * fwhm)) ** 2).sum())  # noise-equivalent area of the PSF (px)
    n_stars = rng.integers(int(o.stars[0]), int(o.stars[1]), endpoint=True)
    n_galaxies = rng.integers(int(o.galaxies[0]), int(o.galaxies[1]), endpoint=True)
    for kind, count in (("star", n_stars), ("galaxy", n_galaxies)):
        for _ in range(count):
            x, y = rng.uniform(-0.5, nx - 0.5), rng.uniform(-0.5, ny - 0.5)
            xc, yc = int(np.round(x)), int(np.round(y))
            dx, dy = x - xc, y - yc
            if kind == "star":
                flux = float(power_law(rng, *o.star_flux_e, o.star_alpha, 1)[0])
                stamp = flux * psf.stamp(psf.radius(flux, noise_floor), dx, dy)
                area = nea
            else:
                flux = float(power_law(rng, *o.galaxy_flux_e, o.star_alpha, 1)[0])
                r_eff, n_index = log_uniform(rng, *o.galaxy_radius_px), rng.uniform(0.5, 4.0)
                half = int(np.ceil(max(4 * r_eff, 3 * fwhm) + 3 * fwhm))
                galaxy = sersic_stamp(half, n_index, r_eff, rng.uniform(0.3, 1.0), rng.uniform(0, np.pi), dx, dy)
                stamp = flux * fftconvolve(galaxy, psf.stamp(int(3 * fwhm)), mode="same")
                area = nea + 4 * np.pi * r_eff**2 / 2.0
            add_stamp(signal, stamp, yc, xc)
            snr = flux / np.sqrt(flux + area * (sky_level + read_noise**2))
            rows.append((x, y, flux / gain, kind, snr))
    trail = np.zeros(shape)
    if rng.uniform() < o.trail_probability:
        angle, length = rng.uniform(0, np.pi), 3 * max(shape)
        y0, x0 = ny / 2 - length / 2 * np.sin(angle), nx / 2 - length / 2 * np.cos(angle)
        y0, x0 = y0 + rng.uniform(-ny / 3, ny / 3), x0 + rng.uniform(-nx / 3, nx / 3)
        py, px, w = line_pixels(y0, x0, length, angle, 0.5, shape)
        np.add.at(trail, (py, px), w * log_uniform(rng, 50.0, 2000.0))
        trail = fftconvolve(trail, psf.stamp(int(3 * fwhm)), mode="same")
    expected = sky + signal + trail
    cr = cosmic_rays(shape, rng.uniform(*o.cosmic_rays_per_mpix), rng)
    electrons = rng.poisson(np.clip(expected + cr, 0, None)).astype(float) + rng.normal(0, read_noise, shape)
    saturated = electrons >= o.full_well_e
    electrons = np.minimum(electrons, o.full_well_e)
    bad = np.zeros(shape, bool)
    n_hot = rng.binomial(nx * ny, o.hot_pixel_fraction)
    hot = rng.integers(0, ny, n_hot), rng.integers(0, nx, n_hot)
    electrons[hot] += log_uniform(rng, 500.0, 5e4, n_hot)
    bad[hot] = True
    for _ in range(rng.integers(int(o.bad_columns[0]), int(o.bad_columns[1]), endpoint=True)):
        column, start = rng.integers(0, nx), rng.integers(0, ny)
        electrons[start:, column] = rng.choice([0.0, o.full_well_e * 0.8]) + rng.normal(0, read_noise, ny - start)
        bad[start:, column] = True
    noise_sigma = np.sqrt(sky + read_noise**2)
    cr_mask = (cr > 2 * noise_sigma) & ~bad & ~saturated
    wcs = tan_wcs(shape, o.pixel_scale_arcsec, rng)
    header = wcs.to_header()
    header["BUNIT"] = ("ADU", "bias-subtracted counts")
    header["GAIN"] = (round(gain, 4), "electrons per ADU")
    header["RDNOISE"] = (round(read_noise, 3), "read noise (electrons)")
    header["SATURATE"] = (round(o.full_well_e / gain, 2), "saturation level (ADU)")
    header["EXPTIME"] = (o.exptime_s, "exposure time (s)")
    header["SEEING"] = (round(fwhm * o.pixel_scale_arcsec, 3), "PSF FWHM (arcsec)")
    header["OBJECT"] = name or "simulated field"
    header["ORIGIN"] = "sciimg.simulate.sky"
    x, y, flux, kind, snr = (np.array(c) for c in zip(*rows, strict=True)) if rows else [np.empty(0)] * 5
    ra, dec = wcs.pixel_to_world_values(x, y) if len(x) else (np.empty(0), np.empty(0))
    sources = Table(
        {"x": x, "y": y, "ra": ra, "dec": dec, "flux": flux, "type": np.asarray(kind, str), "snr": snr},
        meta={"fwhm_px": fwhm, "psf": "gaussian" if beta is None else f"moffat beta={beta:.2f}"},
    )
    sources["ra"].unit = sources["dec"].unit = "deg"
    sources["flux"].unit = "adu"
    pair = None
    if o.exposures > 1:  # drawn last, so single exposures stay as they were for a seed
        cr_pair = cosmic_rays(shape, rng.uniform(*o.cosmic_rays_per_mpix), rng)
        second = rng.poisson(np.clip(expected + cr_pair, 0, None)).astype(float) + rng.normal(0, read_noise, shape)
        second = np.where(bad, electrons, np.minimum(second, o.full_well_e))  # the same detector defects
        pair = (second / gain).astype(np.float32)
    return SkyImage(
        image_adu=(electrons / gain).astype(np.float32),
        clean_adu=((sky + signal) / gain).astype(np.float32),  # a trail is an artefact too
        cr_mask=cr_mask,
        bad_mask=bad,
        saturated_mask=saturated & ~bad,
        trail_mask=trail > noise_sigma,
        sources=sources,
        header=header,
        pair_adu=pair,
    )


def write_sky_image(folder: Path, name: str, sim: SkyImage, provenance: Mapping[str, Any] | None) -> None:
    """``<name>.fits`` (the exposure, as an archive would have it) and ``<name>.truth.fits``."""
    header = sim.header.copy()
    if provenance is not None:
        header["SCIPROV"] = (json.dumps(provenance, sort_keys=True), "sciimg provenance (JSON)")
    fits.PrimaryHDU(sim.image_adu, header=header).writeto(folder / f"{name}.fits")
    if sim.pair_adu is not None:
        fits.PrimaryHDU(sim.pair_adu, header=header).writeto(folder / f"{name}{PAIR_SUFFIX}")
    truth = fits.HDUList(
        [
            fits.PrimaryHDU(header=sim.header),
            fits.ImageHDU(sim.clean_adu, header=sim.header, name="CLEAN"),
            fits.ImageHDU(sim.cr_mask.astype(np.uint8), name="CRMASK"),
            fits.ImageHDU(sim.bad_mask.astype(np.uint8), name="BADMASK"),
            fits.ImageHDU(sim.saturated_mask.astype(np.uint8), name="SATMASK"),
            fits.ImageHDU(sim.trail_mask.astype(np.uint8), name="TRAILMASK"),
            fits.BinTableHDU(sim.sources, name="SOURCES"),
        ]
    )
    truth.writeto(folder / f"{name}{TRUTH_SUFFIX}")


def simulate_sky_folder(
    path: str | os.PathLike,
    n_images: int,
    seed: int,
    provenance: Mapping[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Write ``n_images`` exposures (and their truth) into the folder ``path``, atomically.

    Args:
        options: :class:`SkyOptions` fields; ranges as two-element lists.
    """
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    sky_options = SkyOptions(**options)
    with atomic_directory(path) as tmp:
        for index in range(n_images):
            name = f"field_{index:04d}"
            sim = simulate_image(sky_options, np.random.default_rng([seed, index]), name)
            write_sky_image(tmp, name, sim, provenance)
    return Path(path)
