"""LArTPC-like events in a voxel cube, with per-voxel truth, written as sparse (or dense) HDF5.

Each event holds one or two interaction vertices inside the cube, each emitting muons,
protons, electrons and photons, and often a cosmic muon crossing the whole cube. The
physics is simplified but keeps what a reconstruction must cope with:

* charged particles step through liquid argon (0.5 voxel steps) with Landau-like
  (Moyal) fluctuations of the energy loss and Highland multiple scattering;
* muons and protons lose energy by a Bragg-Kleeman range-energy law (with the minimum
  ionising 2.1 MeV/cm as a floor), so stopping tracks end in a Bragg peak;
* a stopping muon emits a Michel electron (energy from the Michel spectrum) and muons
  knock out delta rays (1/T^2 spectrum above 2 MeV);
* electrons radiate photons (probability step / X0 above the critical energy); photons
  travel a gap (mean 9/7 X0) and convert to an e+e- pair, or below 5 MeV deposit one
  small Compton electron: branching cascades with gaps;
* low-energy scatters (sub-MeV to 2 MeV electrons) around the vertices;
* charge follows Birks recombination, drifts along z (the anode at z = 0) with
  diffusion growing as the square root of the drift distance, gets electronic noise and
  zero suppression; isolated noise hits are added, and readout columns may be dead;
* optionally, structured noise that isolated-hit cuts cannot remove: noisy pixels (one
  readout column firing over a run of drift ticks, a line along z) and coherent bursts
  (the pixels of one 8 x 8 readout chip firing at the same tick, a patch in y-x).

Truth per voxel: the semantic class (:data:`CLASSES`, or :data:`NOISE`) and the particle
instance of the largest charge in it (noise hits: -1 isolated, -2 noisy pixel, -3
coherent burst, see :data:`NOISE_KINDS`); per event: track start and end points, deposited
and true (primary kinetic) energy, and whether everything stayed inside the cube.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.geometry.voxels import bin_points
from sciimg.io.volumes import SparseEvent, write_dense_volumes, write_sparse_volumes

CLASSES = ("shower", "track", "michel", "delta", "low_energy")
SHOWER, TRACK, MICHEL, DELTA, LOW_ENERGY = range(len(CLASSES))
NOISE = len(CLASSES)  # semantic label of electronic-noise hits
LABELS = (*CLASSES, "noise")
NOISE_KINDS = ("isolated", "noisy_pixel", "coherent")  # noise hit of kind k has instance -(k + 1)
CHIP_PIXELS = 8  # a readout chip serves 8 x 8 pixel columns
NOISY_PIXEL_FIRING = 0.6  # chance a noisy pixel fires at each tick of its run
BURST_FIRING = 0.5  # chance each pixel of a chip fires in a coherent burst

MUON_MEV, PROTON_MEV, ELECTRON_MEV = 105.66, 938.27, 0.511
MIP_MEV_PER_CM = 2.1
RADIATION_LENGTH_CM = 14.0
CRITICAL_ENERGY_MEV = 32.8
MICHEL_MAX_MEV = 52.8
COMPTON_MAX_MEV = 5.0
COMPTON_LENGTH_CM = 15.0
KE_PER_MEV = 1e-3 / 23.6e-6  # ionisation electrons (thousands) per MeV, before recombination
DELTA_MIN_MEV = 2.0
DELTA_RATE = 0.0964  # K/2 Z/A rho in MeV/cm: delta rays per cm above T are DELTA_RATE / T
STEP_VOXELS = 0.5
SUB_CHARGES = 4  # each deposit is split into this many diffused charges


@dataclass(frozen=True)
class DetectorModel:
    """The cube and its readout.

    Args:
        grid: voxels per side.
        pitch_mm: voxel size.
        noise_ke: electronic noise on each read voxel (thousand electrons).
        threshold_ke: zero suppression: voxels at or below it are not read out.
        noise_voxels: mean number of isolated noise hits per event.
        noisy_pixels: mean number of noisy pixels per event, each firing over a run of ticks.
        coherent_bursts: mean number of coherent bursts per event (one chip, one tick).
        diffusion_voxels: (longitudinal, transverse) diffusion sigma at the far end of the drift.
        dead_fraction: fraction of readout columns (y, x) that are dead, in square patches.
        field_kv_cm: drift field (Birks recombination).
    """

    grid: int = 64
    pitch_mm: float = 3.0
    noise_ke: float = 0.4
    threshold_ke: float = 1.5
    noise_voxels: float = 40.0
    noisy_pixels: float = 0.0
    coherent_bursts: float = 0.0
    diffusion_voxels: tuple[float, float] = (0.35, 0.5)
    dead_fraction: float = 0.0
    field_kv_cm: float = 0.5


@dataclass(frozen=True)
class EventModel:
    """What an event holds; energy ranges are kinetic energies in MeV, drawn log-uniform."""

    vertices: tuple[int, int] = (1, 2)
    particles_per_vertex: tuple[int, int] = (1, 4)
    particle_weights: dict[str, float] = field(
        default_factory=lambda: {"muon": 0.35, "proton": 0.25, "electron": 0.2, "photon": 0.2}
    )
    muon_mev: tuple[float, float] = (20.0, 300.0)
    proton_mev: tuple[float, float] = (20.0, 250.0)
    electron_mev: tuple[float, float] = (20.0, 400.0)
    photon_mev: tuple[float, float] = (20.0, 400.0)
    cosmic_probability: float = 0.5
    cosmic_mev: tuple[float, float] = (1000.0, 10000.0)
    michel_probability: float = 0.8
    low_energy_scatters: float = 4.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _isotropic(rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.normal(size=3))


def _scatter(rng: np.random.Generator, direction: np.ndarray, theta: float) -> np.ndarray:
    """Turn ``direction`` by a random angle of projected width ``theta`` (radians)."""
    kick = rng.normal(size=3) * theta
    kick -= kick @ direction * direction
    return _unit(direction + kick)


def _log_uniform(rng: np.random.Generator, low_high: tuple[float, float]) -> float:
    low, high = np.log(low_high[0]), np.log(low_high[1])
    return float(np.exp(rng.uniform(low, high)))


def bragg_kleeman_dedx(kinetic_mev: float, mass_mev: float) -> float:
    """Mean stopping power (MeV/cm) in liquid argon of a heavy particle, floored at minimum ionisation.

    The proton range is R = 0.0022 T^1.75 cm (T in MeV); other masses scale as
    R_M(T) = (M / m_p) R_p(T m_p / M).
    """
    scale = mass_mev / PROTON_MEV
    t = max(kinetic_mev, 0.05) / scale
    return max(MIP_MEV_PER_CM, 1.0 / (0.0022 * 1.75 * t**0.75))


def highland_theta(kinetic_mev: float, mass_mev: float, step_cm: float) -> float:
    """Projected multiple-scattering angle (radians) after ``step_cm`` of liquid argon."""
    momentum = np.sqrt(kinetic_mev**2 + 2 * kinetic_mev * mass_mev)
    beta = momentum / (kinetic_mev + mass_mev)
    x = step_cm / RADIATION_LENGTH_CM
    return float(13.6 / max(beta * momentum, 1e-3) * np.sqrt(x) * (1 + 0.038 * np.log(x)))


def birks_recombination(dedx_mev_cm: np.ndarray, field_kv_cm: float) -> np.ndarray:
    """Fraction of ionisation electrons that escape recombination (Birks law, ICARUS constants)."""
    return 0.8 / (1 + 0.0486 / (1.396 * field_kv_cm) * dedx_mev_cm)


def michel_energy(rng: np.random.Generator) -> float:
    """A Michel electron energy (MeV) from the spectrum x^2 (3 - 2x), x = E / 52.8 MeV."""
    while True:
        x, y = rng.random(2)
        if y <= x * x * (3 - 2 * x):
            return float(x * MICHEL_MAX_MEV)


@dataclass
class _Walk:
    points: list[np.ndarray]
    energies: list[float]
    left_mev: float
    photons: list[tuple[np.ndarray, np.ndarray, float]]
    deltas: list[tuple[np.ndarray, np.ndarray, float]]


class EventBuilder:
    """Collects the energy deposits of one event and reads them out into voxels."""

    def __init__(self, rng: np.random.Generator, detector: DetectorModel) -> None:
        self.rng, self.detector = rng, detector
        self.size = float(detector.grid)
        self.step_cm = STEP_VOXELS * detector.pitch_mm / 10
        self.points: list[np.ndarray] = []
        self.energies: list[np.ndarray] = []
        self.semantic: list[np.ndarray] = []
        self.instance: list[np.ndarray] = []
        self.keypoints: list[tuple[int, int, np.ndarray]] = []  # (instance, 0 start / 1 end, point)
        self.next_instance = 0
        self.true_energy = 0.0
        self.escaped = False

    def inside(self, point: np.ndarray) -> bool:
        return bool(np.all(point >= 0) and np.all(point < self.size))

    def new_instance(self) -> int:
        self.next_instance += 1
        return self.next_instance - 1

    def deposit(self, walk: _Walk, semantic: int, instance: int) -> None:
        if walk.points:
            self.points.append(np.array(walk.points))
            self.energies.append(np.array(walk.energies))
            self.semantic.append(np.full(len(walk.points), semantic, np.int8))
            self.instance.append(np.full(len(walk.points), instance, np.int32))

    def walk(self, start: np.ndarray, direction: np.ndarray, kinetic: float, mass: float, radiates: bool) -> _Walk:
        """Step a charged particle until it stops or leaves the cube."""
        rng, step_cm = self.rng, self.step_cm
        walk = _Walk([], [], kinetic, [], [])
        position, direction = start.astype(float), _unit(direction)
        electron = mass == ELECTRON_MEV
        while walk.left_mev > 0:
            position = position + direction * STEP_VOXELS
            if not self.inside(position):
                self.escaped = True
                return walk
            mean = (MIP_MEV_PER_CM if electron else bragg_kleeman_dedx(walk.left_mev, mass)) * step_cm
            loss = min(walk.left_mev, mean * min(10.0, max(0.2, _moyal(rng))))
            walk.points.append(position)
            walk.energies.append(loss)
            walk.left_mev -= loss
            if radiates and walk.left_mev > CRITICAL_ENERGY_MEV and rng.random() < step_cm / RADIATION_LENGTH_CM:
                photon = walk.left_mev * rng.uniform(0.1, 0.7)
                walk.left_mev -= photon
                walk.photons.append((position, _scatter(rng, direction, 0.02), photon))
            if mass == MUON_MEV and walk.left_mev > 0:
                self._maybe_delta(walk, position, direction)
            if walk.left_mev > 0:
                direction = _scatter(rng, direction, highland_theta(walk.left_mev, mass, step_cm))
        return walk

    def _maybe_delta(self, walk: _Walk, position: np.ndarray, direction: np.ndarray) -> None:
        gamma = 1 + walk.left_mev / MUON_MEV
        beta_gamma_sq = gamma**2 - 1
        t_max = 2 * ELECTRON_MEV * beta_gamma_sq / (1 + 2 * gamma * ELECTRON_MEV / MUON_MEV)
        t_max = min(t_max, walk.left_mev / 2)
        if t_max <= DELTA_MIN_MEV:
            return
        rate = DELTA_RATE * (1 / DELTA_MIN_MEV - 1 / t_max) * self.step_cm
        if self.rng.random() >= rate:
            return
        inverse = 1 / DELTA_MIN_MEV - self.rng.random() * (1 / DELTA_MIN_MEV - 1 / t_max)
        energy = 1 / inverse
        cos_theta = min(1.0, np.sqrt(energy / (energy + 2 * ELECTRON_MEV)) * np.sqrt(1 + 2 / beta_gamma_sq) * 0.9)
        kick = _unit(np.cross(direction, _isotropic(self.rng)))
        delta_direction = _unit(cos_theta * direction + np.sqrt(1 - cos_theta**2) * kick)
        walk.left_mev -= energy
        walk.deltas.append((position, delta_direction, energy))

    def heavy(self, start: np.ndarray, direction: np.ndarray, kinetic: float, mass: float, michel_probability: float):
        """A muon or proton: a track with start and end points; deltas and a Michel electron for muons."""
        instance = self.new_instance()
        walk = self.walk(start, direction, kinetic, mass, radiates=False)
        self.deposit(walk, TRACK, instance)
        if len(walk.points) >= 2:
            self.keypoints += [(instance, 0, walk.points[0]), (instance, 1, walk.points[-1])]
        for position, delta_direction, energy in walk.deltas:
            self.cascade(position, delta_direction, energy, photon=False, semantic=DELTA)
        stopped = walk.left_mev <= 0
        if mass == MUON_MEV and stopped and walk.points and self.rng.random() < michel_probability:
            self.cascade(walk.points[-1], _isotropic(self.rng), michel_energy(self.rng), photon=False, semantic=MICHEL)

    def cascade(self, start: np.ndarray, direction: np.ndarray, energy: float, photon: bool, semantic: int) -> None:
        """An electromagnetic cascade: radiating electrons, photons with conversion gaps, Compton electrons."""
        instance = self.new_instance()
        stack = [(np.asarray(start, float), direction, energy, photon)]
        pitch_cm = self.detector.pitch_mm / 10
        while stack:
            position, direction, energy, photon = stack.pop()
            if not photon:
                walk = self.walk(position, direction, energy, ELECTRON_MEV, radiates=True)
                self.deposit(walk, semantic, instance)
                stack += [(p, d, e, True) for p, d, e in walk.photons]
                continue
            compton = energy < COMPTON_MAX_MEV
            mean_cm = COMPTON_LENGTH_CM if compton else 9 / 7 * RADIATION_LENGTH_CM
            point = position + direction * self.rng.exponential(mean_cm) / pitch_cm
            if not self.inside(point):
                self.escaped = True
                continue
            if compton:
                self.low_energy(point, energy * self.rng.uniform(0.3, 1.0))
                continue
            share = self.rng.uniform(0.15, 0.85)
            for part in (share, 1 - share):
                stack.append((point, _scatter(self.rng, direction, 0.05), energy * part, False))

    def low_energy(self, point: np.ndarray, energy: float) -> None:
        """A low-energy scatter: a short electron of its own instance."""
        walk = self.walk(point, _isotropic(self.rng), energy, ELECTRON_MEV, radiates=False)
        self.deposit(walk, LOW_ENERGY, self.new_instance())


def _moyal(rng: np.random.Generator) -> float:
    """A Landau-like fluctuation factor of mean about 1 (Moyal, width 0.15)."""
    u = rng.standard_normal()
    return 0.81 - 0.15 * np.log(max(u * u, 1e-12))


def build_event(rng: np.random.Generator, detector: DetectorModel, events: EventModel) -> EventBuilder:
    """The energy deposits of one event (not yet read out)."""
    builder = EventBuilder(rng, detector)
    size = detector.grid
    kinds = list(events.particle_weights)
    weights = np.array([events.particle_weights[k] for k in kinds], float)
    vertices = []
    for _ in range(rng.integers(int(events.vertices[0]), int(events.vertices[1]) + 1)):
        vertex = rng.uniform(0.2 * size, 0.8 * size, 3)
        vertices.append(vertex)
        for _ in range(rng.integers(int(events.particles_per_vertex[0]), int(events.particles_per_vertex[1]) + 1)):
            kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
            direction = _isotropic(rng)
            kinetic = _log_uniform(rng, getattr(events, f"{kind}_mev"))
            builder.true_energy += kinetic
            if kind in ("muon", "proton"):
                mass = MUON_MEV if kind == "muon" else PROTON_MEV
                builder.heavy(vertex, direction, kinetic, mass, events.michel_probability)
            else:
                builder.cascade(vertex, direction, kinetic, photon=kind == "photon", semantic=SHOWER)
    if rng.random() < events.cosmic_probability:
        entry = np.array([rng.uniform(0, size), 1e-3, rng.uniform(0, size)])  # the top face: y = 0
        direction = _unit(np.array([rng.normal(0, 0.4), 1.0, rng.normal(0, 0.4)]))
        kinetic = _log_uniform(rng, events.cosmic_mev)
        builder.true_energy += kinetic
        builder.heavy(entry, direction, kinetic, MUON_MEV, events.michel_probability)
    for _ in range(rng.poisson(events.low_energy_scatters)):
        near = vertices[rng.integers(len(vertices))] + rng.normal(0, size / 6, 3)
        if builder.inside(near):
            energy = rng.uniform(0.2, 2.0)
            builder.true_energy += energy
            builder.low_energy(near, energy)
    return builder


def dead_columns(rng: np.random.Generator, grid: int, fraction: float) -> np.ndarray:
    """A ``(grid, grid)`` map of dead readout columns (y, x): square patches covering about ``fraction``."""
    dead = np.zeros((grid, grid), bool)
    side = max(2, grid // 16)
    while dead.mean() < fraction:
        y, x = rng.integers(0, grid - side + 1, 2)
        dead[y : y + side, x : x + side] = True
    return dead


def read_out(builder: EventBuilder, dead: np.ndarray, event_id: int) -> SparseEvent:
    """Recombination, drift diffusion, noise, zero suppression and dead columns: the event's voxels."""
    rng, detector, grid = builder.rng, builder.detector, builder.detector.grid
    if builder.points:
        points = np.concatenate(builder.points)
        energies = np.concatenate(builder.energies)
        semantic = np.concatenate(builder.semantic)
        instance = np.concatenate(builder.instance)
    else:
        points, energies = np.zeros((0, 3)), np.zeros(0)
        semantic, instance = np.zeros(0, np.int8), np.zeros(0, np.int32)
    deposited = float(energies.sum())
    dedx = energies / builder.step_cm
    charge = energies * KE_PER_MEV * birks_recombination(dedx, detector.field_kv_cm)
    drift = np.sqrt(np.clip(points[:, 0], 0, None) / grid)[:, None]
    sigma = np.array([detector.diffusion_voxels[0], *(detector.diffusion_voxels[1],) * 2])
    spread = points[:, None, :] + rng.normal(size=(len(points), SUB_CHARGES, 3)) * sigma * drift[:, :, None]
    voxels = np.floor(spread).astype(np.int64).reshape(-1, 3)
    sub_charge = np.repeat(charge / SUB_CHARGES, SUB_CHARGES)
    sub_semantic, sub_instance = np.repeat(semantic, SUB_CHARGES), np.repeat(instance, SUB_CHARGES)
    inside = np.all((voxels >= 0) & (voxels < grid), axis=1)
    labels = {"semantic": sub_semantic[inside], "instance": sub_instance[inside]}
    coords, totals, labels = bin_points(voxels[inside], sub_charge[inside], (grid,) * 3, labels)
    occupied = np.ravel_multi_index(coords.T, (grid,) * 3) if len(coords) else np.zeros(0, np.int64)
    values = totals + rng.normal(0, detector.noise_ke, len(totals))
    read = values > detector.threshold_ke
    occupied, values = occupied[read], values[read]
    labels, instances = labels["semantic"][read], labels["instance"][read]

    n_noise = rng.poisson(detector.noise_voxels)
    noise = np.setdiff1d(rng.integers(0, grid**3, n_noise), occupied)
    noise_values = detector.threshold_ke + rng.exponential(detector.noise_ke, len(noise))
    noise_kind = np.full(len(noise), -1)
    if detector.noisy_pixels > 0 or detector.coherent_bursts > 0:
        extra, extra_kind = structured_noise(rng, detector, np.concatenate([occupied, noise]))
        noise = np.concatenate([noise, extra])
        noise_values = np.concatenate(
            [noise_values, detector.threshold_ke + rng.exponential(2.5 * detector.noise_ke, len(extra))]
        )
        noise_kind = np.concatenate([noise_kind, extra_kind])
    flat = np.concatenate([occupied, noise])
    order = np.argsort(flat, kind="stable")
    coords = np.stack(np.unravel_index(flat[order], (grid,) * 3), axis=1).astype(np.int16)
    keypoints = sorted(builder.keypoints, key=lambda k: (k[0], k[1]))
    return SparseEvent(
        event_id=event_id,
        coords=coords,
        values=np.concatenate([values, noise_values])[order].astype(np.float32),
        semantic=np.concatenate([labels, np.full(len(noise), NOISE)])[order].astype(np.int8),
        instance=np.concatenate([instances, noise_kind])[order].astype(np.int32),
        dead=dead[coords[:, 1], coords[:, 2]],
        keypoints=np.array([k[2] for k in keypoints], np.float32).reshape(-1, 3),
        keypoint_kind=np.array([k[1] for k in keypoints], np.int8),
        keypoint_instance=np.array([k[0] for k in keypoints], np.int32),
        truth={
            "true_energy_mev": builder.true_energy,
            "deposited_energy_mev": deposited,
            "contained": not builder.escaped,
        },
    )


def structured_noise(
    rng: np.random.Generator, detector: DetectorModel, taken: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hits of noisy pixels and coherent bursts (flat voxel indices, instance codes) outside ``taken``.

    A noisy pixel is one readout column (y, x) firing at each tick of a run of ``grid/8`` to
    ``grid/2`` ticks with chance :data:`NOISY_PIXEL_FIRING`; a coherent burst is every pixel
    of one readout chip (:data:`CHIP_PIXELS` squared columns) firing at one tick with chance
    :data:`BURST_FIRING`.
    """
    grid = detector.grid
    hits, kinds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for _ in range(rng.poisson(detector.noisy_pixels)):
        y, x = rng.integers(0, grid, 2)
        length = int(rng.integers(max(1, grid // 8), max(2, grid // 2) + 1))
        start = int(rng.integers(0, grid - length + 1))
        z = np.arange(start, start + length)[rng.random(length) < NOISY_PIXEL_FIRING]
        hits.append(np.ravel_multi_index((z, np.full_like(z, y), np.full_like(z, x)), (grid,) * 3))
        kinds.append(np.full(len(z), -2))
    chip = min(CHIP_PIXELS, grid)
    for _ in range(rng.poisson(detector.coherent_bursts)):
        z = int(rng.integers(0, grid))
        y0, x0 = rng.integers(0, grid // chip, 2) * chip
        y, x = np.meshgrid(np.arange(y0, y0 + chip), np.arange(x0, x0 + chip), indexing="ij")
        fired = rng.random(y.shape) < BURST_FIRING
        hits.append(np.ravel_multi_index((np.full(fired.sum(), z), y[fired], x[fired]), (grid,) * 3))
        kinds.append(np.full(int(fired.sum()), -3))
    flat, first = np.unique(np.concatenate(hits), return_index=True)
    kind = np.concatenate(kinds)[first]
    free = ~np.isin(flat, taken)
    return flat[free], kind[free]


def simulate_events(n_events: int, seed: int, detector: DetectorModel, events: EventModel) -> Iterator[SparseEvent]:
    """``n_events`` read-out events; event ``i`` depends on ``(seed, i)`` alone."""
    dead = dead_columns(np.random.default_rng([seed, 2**31]), detector.grid, detector.dead_fraction)
    for i in range(n_events):
        rng = np.random.default_rng([seed, i])
        yield read_out(build_event(rng, detector, events), dead, i)


def simulate_detector3d_file(
    path: str | os.PathLike,
    n_events: int,
    seed: int,
    provenance: dict[str, Any] | None = None,
    format: str = "sparse",
    **options: Any,
) -> Path:
    """Simulate ``n_events`` and write them as sparse (or ``format="dense"``) HDF5 (see :mod:`sciimg.io.volumes`).

    Options are fields of :class:`DetectorModel` and :class:`EventModel` (lists become tuples).
    """
    detector_keys = set(DetectorModel.__dataclass_fields__)
    unknown = sorted(set(options) - detector_keys - set(EventModel.__dataclass_fields__))
    if unknown:
        raise ValueError(f"simulation options must be fields of DetectorModel or EventModel, got {unknown}")
    as_tuple = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    detector = DetectorModel(**{k: v for k, v in as_tuple.items() if k in detector_keys})
    events = EventModel(**{k: v for k, v in as_tuple.items() if k not in detector_keys})
    attrs = {
        "grid": [detector.grid] * 3,
        "pitch_mm": detector.pitch_mm,
        "origin_mm": [0.0, 0.0, 0.0],
        "classes": list(LABELS),
        "value_units": "ke-",
        "drift_axis": "z",
        "simulation": {"detector": detector.__dict__, "events": events.__dict__, "seed": seed},
        "provenance": provenance or {},
    }
    generator = simulate_events(n_events, seed, detector, events)
    if format == "dense":
        return write_dense_volumes(path, generator, n_events, attrs)
    if format != "sparse":
        raise ValueError(f"format must be 'sparse' or 'dense', got {format!r}")
    return write_sparse_volumes(path, generator, attrs)
