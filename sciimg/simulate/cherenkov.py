"""Gamma (and optionally proton) shower images on a real or simulated camera, written as ctapipe DL1.

The image model follows ctapipe's ``toymodel`` idea (a skewed 2D Gaussian ellipse whose
major axis points away from the source) with the scalings of real LST showers: the total
light grows about linearly with energy and falls outside the ~120 m Cherenkov light pool;
the image centroid moves away from the source with impact distance; length and width grow
with energy; every shower fluctuates. Protons are dimmer per TeV, wider, patchy (several
sub-showers) and arrive from a diffuse cone. The camera adds night-sky background,
Poisson photo-electrons with excess noise and electronic noise; light falling outside the
camera is lost (leakage). Peak times run along the major axis with a gradient that grows
with impact distance. Only events that trigger (enough signal in the camera) are written,
as an instrument archive would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.time import Time
from ctapipe.containers import (
    ArrayEventContainer,
    DL1CameraContainer,
    EventType,
    SimulatedCameraContainer,
    SimulatedEventContainer,
    SimulatedShowerContainer,
    SimulationConfigContainer,
    TelescopeImpactParameterContainer,
)
from ctapipe.instrument import (
    CameraDescription,
    CameraGeometry,
    CameraReadout,
    OpticsDescription,
    ReflectorShape,
    SizeType,
    SubarrayDescription,
    TelescopeDescription,
)
from scipy.special import ndtr

from sciimg.geometry.camera import hexagonal_camera, load_camera_geometry
from sciimg.io.dl1 import GAMMA, PROTON, write_dl1

POINTING_ALT_DEG = 70.0
TEL_ID, OBS_ID = 1, 1


@dataclass(frozen=True)
class ShowerModel:
    """Parameters of the simulated showers and of the camera noise (defaults: LST-like)."""

    energy_min_tev: float = 0.02
    energy_max_tev: float = 50.0
    spectral_index: float = 2.0
    max_impact_m: float = 300.0
    max_source_offset_deg: float = 0.5
    proton_fraction: float = 0.0
    proton_cone_deg: float = 2.5
    pe_per_tev: float = 1800.0
    light_pool_radius_m: float = 120.0
    light_pool_falloff_m: float = 70.0
    nsb_pe: float = 1.5
    electronic_noise_pe: float = 0.4
    excess_noise: float = 0.15
    trigger_pe: float = 25.0


@dataclass
class Showers:
    """Per-shower truth and image-model parameters (arrays of one length)."""

    primary: np.ndarray
    energy: np.ndarray
    impact: np.ndarray
    phi: np.ndarray
    source_x: np.ndarray
    source_y: np.ndarray
    size: np.ndarray
    distance: np.ndarray
    length: np.ndarray
    width: np.ndarray
    skewness: np.ndarray
    time_gradient: np.ndarray

    def __len__(self) -> int:
        return len(self.energy)


def sample_power_law(rng: np.random.Generator, n: int, e_min: float, e_max: float, index: float) -> np.ndarray:
    """Energies with dN/dE proportional to E^-index between e_min and e_max (inverse CDF)."""
    uniform = rng.uniform(size=n)
    if np.isclose(index, 1.0):
        return e_min * (e_max / e_min) ** uniform
    a = 1.0 - index
    return (e_min**a + uniform * (e_max**a - e_min**a)) ** (1.0 / a)


def sample_showers(rng: np.random.Generator, n: int, model: ShowerModel) -> Showers:
    """Draw ``n`` showers: primaries, energies, impacts, directions and image-model parameters."""
    primary = np.where(rng.uniform(size=n) < model.proton_fraction, PROTON, GAMMA)
    proton = primary == PROTON
    energy = sample_power_law(rng, n, model.energy_min_tev, model.energy_max_tev, model.spectral_index)
    impact = model.max_impact_m * np.sqrt(rng.uniform(size=n))
    offset_max = np.where(proton, model.proton_cone_deg, model.max_source_offset_deg)
    offset_r = offset_max * np.sqrt(rng.uniform(size=n))
    offset_phi = rng.uniform(0, 2 * np.pi, n)

    log_e = np.log10(energy / 0.1)
    light_pool = np.exp(-np.clip(impact - model.light_pool_radius_m, 0, None) / model.light_pool_falloff_m)
    fluctuation = np.clip(0.25 * (energy / 0.1) ** -0.15, 0.08, None) * np.where(proton, 2.0, 1.0)
    light_yield = np.where(proton, 0.35, 1.0) * model.pe_per_tev
    size = light_yield * energy**1.05 * light_pool * rng.lognormal(0.0, fluctuation)
    # Hillas length/width of real LST gammas: ~0.15/0.05 deg at 100 GeV, ~0.45/0.12 deg at 10 TeV
    length = np.clip((0.10 + 0.08 * log_e + 0.0006 * impact) * rng.lognormal(0.0, 0.1, n), 0.04, None)
    width = np.clip((0.045 + 0.025 * log_e) * rng.lognormal(0.0, 0.1, n), 0.02, None) * np.where(proton, 2.2, 1.0)
    return Showers(
        primary=primary,
        energy=energy,
        impact=impact,
        phi=rng.uniform(0, 2 * np.pi, n),
        source_x=offset_r * np.cos(offset_phi),
        source_y=offset_r * np.sin(offset_phi),
        size=size,
        distance=impact * 0.0075 * (1 + 0.08 * log_e) * rng.normal(1.0, 0.05, n),
        length=length,
        width=width,
        skewness=rng.uniform(1.0, 3.0, n),
        time_gradient=(impact / 100.0) * 4.0 * rng.normal(1.0, 0.1, n),  # ns / deg
    )


def _ellipse(fov_x: np.ndarray, fov_y: np.ndarray, cx: float, cy: float, phi: float, length: float, width: float):
    """Coordinates along/across an ellipse's major axis in units of its length/width."""
    dx, dy = fov_x - cx, fov_y - cy
    along = (dx * np.cos(phi) + dy * np.sin(phi)) / length
    across = (-dx * np.sin(phi) + dy * np.cos(phi)) / width
    return along, across


def light_density(showers: Showers, i: int, fov_x: np.ndarray, fov_y: np.ndarray, rng: np.random.Generator):
    """Expected light per deg^2 at each pixel, and the coordinate along the major axis (in lengths)."""
    phi, length, width = showers.phi[i], showers.length[i], showers.width[i]
    cx = showers.source_x[i] + showers.distance[i] * np.cos(phi)
    cy = showers.source_y[i] + showers.distance[i] * np.sin(phi)
    along, across = _ellipse(fov_x, fov_y, cx, cy, phi, length, width)
    if showers.primary[i] == GAMMA:
        density = np.exp(-0.5 * (along**2 + across**2)) / (np.pi * length * width)
        return density * ndtr(showers.skewness[i] * along), along
    # proton: patchy sum of sub-showers scattered along and around the axis
    n_sub = 2 + rng.poisson(2.0)
    fractions = rng.dirichlet(np.full(n_sub, 1.5))
    density = np.zeros_like(fov_x)
    for fraction in fractions:
        shift_along, shift_across = rng.normal(0, 0.7) * length, rng.normal(0, 1.0) * width
        sub_x = cx + shift_along * np.cos(phi) - shift_across * np.sin(phi)
        sub_y = cy + shift_along * np.sin(phi) + shift_across * np.cos(phi)
        sub_l, sub_w = length * rng.uniform(0.3, 0.7), width * rng.uniform(0.4, 0.8)
        a, c = _ellipse(fov_x, fov_y, sub_x, sub_y, phi + rng.normal(0, 0.35), sub_l, sub_w)
        density += fraction * np.exp(-0.5 * (a**2 + c**2)) / (2 * np.pi * sub_l * sub_w)
    return density, along


@dataclass(frozen=True)
class SkyPixels:
    """Pixel centres (deg in the field of view) and solid angles (deg^2), computed once per camera."""

    fov_x: np.ndarray
    fov_y: np.ndarray
    area_deg2: np.ndarray

    @classmethod
    def of(cls, geometry: CameraGeometry, focal_length_m: float) -> SkyPixels:
        scale = np.degrees(1.0 / focal_length_m)
        return cls(
            geometry.pix_x.to_value(u.m) * scale,
            geometry.pix_y.to_value(u.m) * scale,
            geometry.pix_area.to_value(u.m**2) * scale**2,
        )


def camera_image(showers: Showers, i: int, pixels: SkyPixels, model: ShowerModel, rng: np.random.Generator):
    """Charge (p.e.), peak time (ns) and true signal p.e. of shower ``i`` in the camera."""
    density, along = light_density(showers, i, pixels.fov_x, pixels.fov_y, rng)
    n = len(pixels.fov_x)
    signal_pe = rng.poisson(showers.size[i] * density * pixels.area_deg2)
    charge = signal_pe * rng.normal(1.0, model.excess_noise, n)
    charge += rng.poisson(model.nsb_pe, n) - model.nsb_pe + rng.normal(0.0, model.electronic_noise_pe, n)
    shower_time = 15.0 + showers.time_gradient[i] * along * showers.length[i] + rng.normal(0, 0.5, n)
    peak_time = np.where(signal_pe > 0, shower_time, rng.uniform(0.0, 30.0, n))
    return charge.astype(np.float32), peak_time.astype(np.float32), int(signal_pe.sum())


def lst_like_subarray(geometry: CameraGeometry, focal_length_m: float) -> SubarrayDescription:
    """One LST-like telescope carrying ``geometry``, at the La Palma site."""
    optics = OpticsDescription(
        name="LST",
        size_type=SizeType.LST,
        n_mirrors=1,
        equivalent_focal_length=focal_length_m * u.m,
        effective_focal_length=focal_length_m * 1.046 * u.m,
        mirror_area=386.0 * u.m**2,
        n_mirror_tiles=198,
        reflector_shape=ReflectorShape.PARABOLIC,
    )
    readout = CameraReadout(geometry.name, 1.0 * u.GHz, np.ones((1, 40)), 0.5 * u.ns, 1, geometry.n_pixels, 40)
    telescope = TelescopeDescription("LST", optics, CameraDescription(geometry.name, geometry, readout))
    site = EarthLocation.from_geodetic(-17.8920 * u.deg, 28.7615 * u.deg, 2200.0 * u.m)
    return SubarrayDescription("sciimg-simulation", {TEL_ID: [0.0, 0.0, 0.0] * u.m}, {TEL_ID: telescope}, site)


def _event(showers: Showers, i: int, event_id: int, charge, peak_time, true_pe: int) -> ArrayEventContainer:
    event = ArrayEventContainer()
    event.index.obs_id, event.index.event_id = OBS_ID, event_id
    event.trigger.tels_with_trigger = [TEL_ID]
    event.trigger.time = Time(60000.0 + event_id * 1e-8, format="mjd")
    event.trigger.event_type = EventType.SUBARRAY
    event.trigger.tel[TEL_ID].time = event.trigger.time
    event.monitoring.tel[TEL_ID].pointing.altitude = POINTING_ALT_DEG * u.deg
    event.monitoring.tel[TEL_ID].pointing.azimuth = 0.0 * u.deg
    event.simulation = SimulatedEventContainer()
    event.simulation.shower = SimulatedShowerContainer(
        energy=showers.energy[i] * u.TeV,
        alt=(POINTING_ALT_DEG + showers.source_y[i]) * u.deg,
        az=(showers.source_x[i] / np.cos(np.radians(POINTING_ALT_DEG))) * u.deg,
        core_x=showers.impact[i] * np.cos(showers.phi[i]) * u.m,
        core_y=showers.impact[i] * np.sin(showers.phi[i]) * u.m,
        shower_primary_id=int(showers.primary[i]),
    )
    event.simulation.tel[TEL_ID] = SimulatedCameraContainer(
        true_image_sum=true_pe, impact=TelescopeImpactParameterContainer(distance=showers.impact[i] * u.m)
    )
    event.dl1.tel[TEL_ID] = DL1CameraContainer(image=charge, peak_time=peak_time, is_valid=True)
    return event


def simulate_events(
    n_events: int, seed: int, geometry: CameraGeometry, focal_length_m: float, model: ShowerModel
) -> Iterator[ArrayEventContainer]:
    """Yield ``n_events`` triggered events (showers are drawn until that many trigger)."""
    rng = np.random.default_rng(seed)
    pixels = SkyPixels.of(geometry, focal_length_m)
    written = 0
    while written < n_events:
        showers = sample_showers(rng, max(64, n_events - written), model)
        for i in range(len(showers)):
            charge, peak_time, true_pe = camera_image(showers, i, pixels, model, rng)
            if true_pe < model.trigger_pe:
                continue
            written += 1
            yield _event(showers, i, written, charge, peak_time, true_pe)
            if written == n_events:
                return


def simulate_cherenkov_file(
    path: str | os.PathLike,
    n_events: int,
    seed: int,
    camera: str = "simulated",
    focal_length_m: float = 28.0,
    provenance: dict | None = None,
    **model_options: float,
) -> None:
    """Simulate triggered showers and write them as a ctapipe DL1 file.

    Args:
        path: output DL1 HDF5 file.
        n_events: triggered events to write.
        seed: random seed.
        camera: a ctapipe camera-geometry file (e.g. ``LSTCam.camgeom.fits.gz``), or
            ``simulated`` for the built-in 1855-pixel LST-like camera.
        focal_length_m: equivalent focal length of the telescope.
        provenance: recorded in the file's ``sciimg_provenance`` attribute.
        **model_options: fields of :class:`ShowerModel`.
    """
    model = ShowerModel(**model_options)
    geometry = hexagonal_camera() if camera == "simulated" else load_camera_geometry(camera)
    config = SimulationConfigContainer(
        energy_range_min=model.energy_min_tev * u.TeV,
        energy_range_max=model.energy_max_tev * u.TeV,
        spectral_index=-model.spectral_index,
        max_scatter_range=model.max_impact_m * u.m,
        max_viewcone_radius=max(model.max_source_offset_deg, model.proton_cone_deg * (model.proton_fraction > 0))
        * u.deg,
    )
    events = simulate_events(n_events, seed, geometry, focal_length_m, model)
    write_dl1(path, lst_like_subarray(geometry, focal_length_m), events, OBS_ID, config, provenance)
