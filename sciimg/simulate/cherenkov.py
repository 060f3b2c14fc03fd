"""Gamma-ray shower images on a hexagonal camera, written as ctapipe-layout DL1 HDF5.

A deliberately simple but honest image model (after ctapipe's toymodel): each shower is a
skewed 2D Gaussian ellipse whose major axis points away from the source position. Its
total light grows with energy and falls outside the ~120 m Cherenkov light pool; its
distance from the source, length and width grow with impact distance and energy; every
shower fluctuates. The camera adds night-sky background, Poisson photo-electrons with
excess noise, and electronic noise; light falling outside the camera is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from sciimg.geometry.camera import Camera
from sciimg.io.dl1 import write_dl1
from sciimg.simulate.camera import hexagonal_camera


@dataclass(frozen=True)
class GammaShowerModel:
    """Parameters of the simulated gamma showers and camera noise (defaults: LST-like)."""

    energy_min_tev: float = 0.03
    energy_max_tev: float = 30.0
    spectral_index: float = 2.0
    max_impact_m: float = 250.0
    max_source_offset_deg: float = 0.5
    pe_per_tev: float = 1800.0
    light_pool_radius_m: float = 120.0
    light_pool_falloff_m: float = 70.0
    nsb_pe: float = 1.5
    electronic_noise_pe: float = 0.4
    excess_noise: float = 0.15


def sample_power_law(rng: np.random.Generator, n: int, e_min: float, e_max: float, index: float) -> np.ndarray:
    """Energies with dN/dE proportional to E^-index between e_min and e_max (inverse CDF)."""
    u = rng.uniform(size=n)
    if np.isclose(index, 1.0):
        return e_min * (e_max / e_min) ** u
    a = 1.0 - index
    return (e_min**a + u * (e_max**a - e_min**a)) ** (1.0 / a)


def simulate_gamma_events(
    n_events: int, seed: int, camera: Camera, model: GammaShowerModel
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Simulate ``n_events`` images.

    Returns:
        image (n_events, n_pixels) in photo-electrons, peak_time (ns), shower table
        (true_energy TeV, true_alt/az deg, true_core_x/y m), impact distance (m).
    """
    rng = np.random.default_rng(seed)
    fov_x, fov_y = camera.to_degrees()
    pixel_area_deg2 = float(np.mean(camera.pix_area)) * np.degrees(1.0 / camera.focal_length) ** 2

    energy = sample_power_law(rng, n_events, model.energy_min_tev, model.energy_max_tev, model.spectral_index)
    impact = model.max_impact_m * np.sqrt(rng.uniform(size=n_events))
    phi = rng.uniform(0, 2 * np.pi, n_events)
    offset_r = model.max_source_offset_deg * np.sqrt(rng.uniform(size=n_events))
    offset_phi = rng.uniform(0, 2 * np.pi, n_events)
    source_x, source_y = offset_r * np.cos(offset_phi), offset_r * np.sin(offset_phi)

    log_e = np.log10(energy / 0.1)
    light_pool = np.exp(-np.clip(impact - model.light_pool_radius_m, 0, None) / model.light_pool_falloff_m)
    fluctuation = np.clip(0.25 * (energy / 0.1) ** -0.15, 0.08, None)
    size = model.pe_per_tev * energy**1.05 * light_pool * rng.lognormal(0.0, fluctuation)
    distance = impact * 0.0075 * (1 + 0.08 * log_e) * rng.normal(1.0, 0.05, n_events)
    # Hillas length/width of real LST showers: ~0.15/0.05 deg at 100 GeV, ~0.45/0.12 deg at 10 TeV
    length = (0.10 + 0.08 * log_e + 0.0006 * impact) * rng.lognormal(0.0, 0.1, n_events)
    length = np.clip(length, 0.04, None)
    width = np.clip((0.045 + 0.025 * log_e) * rng.lognormal(0.0, 0.1, n_events), 0.02, None)
    skewness = rng.uniform(1.0, 3.0, n_events)
    time_gradient = (impact / 100.0) * 4.0 * rng.normal(1.0, 0.1, n_events)  # ns / deg

    image = np.empty((n_events, camera.n_pixels), np.float32)
    peak_time = np.empty_like(image)
    for i in range(n_events):
        cx = source_x[i] + distance[i] * np.cos(phi[i])
        cy = source_y[i] + distance[i] * np.sin(phi[i])
        dx, dy = fov_x - cx, fov_y - cy
        along = (dx * np.cos(phi[i]) + dy * np.sin(phi[i])) / length[i]
        across = (-dx * np.sin(phi[i]) + dy * np.cos(phi[i])) / width[i]
        density = np.exp(-0.5 * (along**2 + across**2)) / (np.pi * length[i] * width[i])
        density *= ndtr(skewness[i] * along)  # skew-normal: tail away from the source
        signal_pe = rng.poisson(size[i] * density * pixel_area_deg2)
        charge = signal_pe * rng.normal(1.0, model.excess_noise, camera.n_pixels)
        nsb = rng.poisson(model.nsb_pe, camera.n_pixels) - model.nsb_pe
        charge += nsb + rng.normal(0.0, model.electronic_noise_pe, camera.n_pixels)
        image[i] = charge
        peak_time[i] = np.where(
            signal_pe > 0,
            15.0 + time_gradient[i] * along * length[i] + rng.normal(0, 0.5, camera.n_pixels),
            rng.uniform(0.0, 30.0, camera.n_pixels),
        )

    pointing_alt = 70.0
    shower = {
        "true_energy": energy,
        "true_alt": pointing_alt + source_y,
        "true_az": source_x / np.cos(np.radians(pointing_alt)),
        "true_core_x": impact * np.cos(phi),
        "true_core_y": impact * np.sin(phi),
    }
    return image, peak_time, shower, impact


def simulate_cherenkov_file(
    path: str | os.PathLike,
    n_events: int,
    seed: int,
    camera_pixels: int = 1855,
    camera_rotation_deg: float = 10.9,
    provenance: dict | None = None,
    **model_options: float,
) -> None:
    """Simulate gamma showers on a hexagonal camera and write them to a DL1 file."""
    camera = hexagonal_camera(n_pixels=camera_pixels, rotation_deg=camera_rotation_deg)
    model = GammaShowerModel(**model_options)
    image, peak_time, shower, impact = simulate_gamma_events(n_events, seed, camera, model)
    write_dl1(
        path,
        camera,
        tel_id=1,
        obs_id=1,
        event_id=np.arange(1, n_events + 1),
        image=image,
        peak_time=peak_time,
        shower=shower,
        impact_distance=impact,
        provenance=provenance or {},
    )
