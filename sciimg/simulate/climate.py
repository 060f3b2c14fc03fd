"""Monthly near-surface temperature fields with known truth, written as CF NetCDF.

The field is climatology + seasonal cycle + trend + anomalies:

* climatology falls with latitude, is colder over land at high latitudes, and the seasonal
  cycle grows with latitude and over land (opposite phase in the two hemispheres);
* anomalies are Gaussian random fields on the sphere, made with random Fourier features
  of the 3-D position (an isotropic squared-exponential covariance in chordal distance),
  whose coefficients follow an AR(1) process month to month. A large-scale and a
  small-scale component are mixed, the small one weighted to land; the amplitude grows
  with latitude and over land, as in observed anomalies;
* an ENSO-like mode: a fixed tropical Pacific pattern times an AR(1) index;
* optionally (``events_per_month`` > 0), weather regimes the Gaussian part cannot make
  (:class:`WeatherEvents`): blocking highs and cold-air outbreaks as compact anomalies with
  sharp, front-like edges, heavy-tailed amplitudes (cold ones over winter land, which gives
  the negative skewness of winter land temperatures, Ruff and Neelin 2012, GRL 39; Perron
  and Sura 2013, J. Climate 26), born in the mid and high latitudes of the winter hemisphere
  where blocking is most frequent (Barriopedro et al. 2006, J. Climate 19), lasting one to a
  few months and drifting east with the westerlies. Linear methods (kriging, EOFs) are
  optimal for the Gaussian part only: these are the structure a learned method can exploit.

The land mask is a smooth random field thresholded to the requested land fraction and is
written as ``sftlf`` (CF land_area_fraction). Months are written in blocks, so memory
does not grow with the number of years.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from sciimg.io.atomic import atomic_path

EARTH_RADIUS_KM = 6371.0
N_FEATURES = 256
BLOCK_MONTHS = 120


def regular_grid(lat_min: float, lat_max: float, lon_min: float, lon_max: float, dlat: float, dlon: float):
    """Cell-centre latitudes and longitudes of a regular grid covering the given bounds."""
    lat = np.arange(lat_min + dlat / 2, lat_max, dlat)
    lon = np.arange(lon_min + dlon / 2, lon_max, dlon)
    return lat, lon


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``(n_lat * n_lon, 3)`` positions on the unit sphere of the grid's cells."""
    la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1).reshape(-1, 3)


@dataclass
class RandomField:
    """A Gaussian random field on the sphere with a squared-exponential covariance of length ``scale_km``."""

    frequencies: np.ndarray  # (F, 3), per unit-sphere distance
    phases: np.ndarray  # (F,)

    @classmethod
    def draw(cls, scale_km: float, rng: np.random.Generator, n_features: int = N_FEATURES) -> RandomField:
        frequencies = rng.normal(0.0, EARTH_RADIUS_KM / scale_km, size=(n_features, 3))
        return cls(frequencies, rng.uniform(0, 2 * np.pi, n_features))

    def basis(self, positions: np.ndarray) -> np.ndarray:
        """``(n_cells, F)`` features; a field is ``basis @ coefficients`` with N(0, 1) coefficients."""
        return np.sqrt(2.0 / len(self.phases)) * np.cos(positions @ self.frequencies.T + self.phases)


def land_mask(positions: np.ndarray, land_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth continent-like land mask with the requested fraction of cells on land."""
    field = RandomField.draw(2500.0, rng).basis(positions) @ rng.normal(size=N_FEATURES)
    return field > np.quantile(field, 1.0 - land_fraction)


def climatology(lat: np.ndarray, land: np.ndarray, month: int) -> np.ndarray:
    """Mean temperature (K) of calendar ``month`` (1..12) on the grid; ``land`` is ``(n_lat, n_lon)``."""
    s = np.sin(np.radians(lat))[:, None]
    base = 301.0 - 42.0 * s**2 - 6.0 * land * s**2
    amplitude = (1.5 + 14.0 * np.abs(s)) * (1.0 + 1.2 * land)
    phase = np.cos(2 * np.pi * (month - 7) / 12.0)  # warmest in July in the north
    return base + amplitude * phase * np.sign(s) / 2


def enso_pattern(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A tropical Pacific warm tongue with weaker opposite lobes to the north and south."""
    la, lo = np.meshgrid(lat, np.mod(lon, 360.0), indexing="ij")
    tongue = np.exp(-((la / 8.0) ** 2) - ((lo - 240.0) / 40.0) ** 2)
    lobes = 0.4 * np.exp(-(((np.abs(la) - 35.0) / 10.0) ** 2) - ((lo - 200.0) / 40.0) ** 2)
    return tongue - lobes


@dataclass
class WeatherEvent:
    """One persistent anomaly: centre, semi-axes (km), orientation, amplitude (K) and months left."""

    lat: float
    lon: float
    major_km: float
    minor_km: float
    angle: float
    amplitude_k: float
    months_left: int


class WeatherEvents:
    """Blocking highs and cold-air outbreaks (see the module docstring); one ``month()`` call per month.

    Modelling choices (orders of magnitude, not fitted): sizes 600-2500 km, edge width 15 %
    of the size (fronts), amplitudes exponential with mean ``mean_amplitude_k`` (x 1.5 over
    land), cold events twice as likely as warm ones over land, lifetime 1-3 months
    decaying by ``decay`` a month, an eastward drift of 5-15 degrees of longitude a month.
    """

    EDGE = 0.15

    def __init__(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        land: np.ndarray,
        per_month: float,
        rng: np.random.Generator,
        mean_amplitude_k: float = 3.0,
        decay: float = 0.6,
    ) -> None:
        self.lat, self.lon, self.land, self.rng = lat, lon, land, rng
        self.per_month, self.mean_amplitude_k, self.decay = per_month, mean_amplitude_k, decay
        self.active: list[WeatherEvent] = []
        self.la, self.lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")

    def _born(self, month: int) -> WeatherEvent:
        rng = self.rng
        northern_winter = month in (11, 12, 1, 2, 3)
        winter_sign = 1.0 if rng.random() < (0.7 if northern_winter else 0.3) else -1.0  # the winter hemisphere
        lat = winter_sign * rng.uniform(35.0, 75.0)
        lon = rng.uniform(0.0, 360.0)
        cell = (np.abs(self.lat - lat).argmin(), np.abs(np.mod(self.lon - lon + 180.0, 360.0) - 180.0).argmin())
        on_land = bool(self.land[cell])
        cold = rng.random() < (2 / 3 if on_land else 1 / 2)
        amplitude = rng.exponential(self.mean_amplitude_k) * (1.5 if on_land else 1.0) * (-1.0 if cold else 1.0)
        major = rng.uniform(600.0, 2500.0)
        minor = major * rng.uniform(0.4, 1.0)
        return WeatherEvent(lat, lon, major, minor, rng.uniform(0, np.pi), amplitude, int(rng.integers(1, 4)))

    def _shape(self, event: WeatherEvent) -> np.ndarray:
        """The event's anomaly on the grid: a plateau with a tanh edge in a local tangent plane."""
        lat0, lon0 = np.radians(event.lat), np.radians(event.lon)
        east = EARTH_RADIUS_KM * np.cos(self.la) * np.sin(self.lo - lon0)
        north = EARTH_RADIUS_KM * (
            np.cos(lat0) * np.sin(self.la) - np.sin(lat0) * np.cos(self.la) * np.cos(self.lo - lon0)
        )
        ahead = np.sin(lat0) * np.sin(self.la) + np.cos(lat0) * np.cos(self.la) * np.cos(self.lo - lon0) > 0
        u = east * np.cos(event.angle) + north * np.sin(event.angle)
        v = -east * np.sin(event.angle) + north * np.cos(event.angle)
        radius = np.sqrt((u / event.major_km) ** 2 + (v / event.minor_km) ** 2)
        return np.where(ahead, 0.5 * (1.0 - np.tanh((radius - 1.0) / self.EDGE)), 0.0) * event.amplitude_k

    def month(self, month: int) -> np.ndarray:
        """Age and advect the active events, add this month's new ones; their summed anomaly (K)."""
        survivors = []
        for event in self.active:
            event.months_left -= 1
            if event.months_left > 0:
                event.amplitude_k *= self.decay
                event.lon = (event.lon + self.rng.uniform(5.0, 15.0)) % 360.0
                survivors.append(event)
        self.active = survivors + [self._born(month) for _ in range(self.rng.poisson(self.per_month))]
        total = np.zeros(self.land.shape)
        for event in self.active:
            total += self._shape(event)
        return total


@dataclass
class ClimateSimulator:
    """Draws months one after another; see the module docstring for the physics.

    Args:
        lat, lon: cell-centre coordinates (degrees).
        seed: random seed.
        land_fraction: fraction of land cells.
        anomaly_std_k: anomaly standard deviation over tropical ocean (K).
        large_scale_km, small_scale_km: correlation lengths of the two anomaly components.
        persistence_large, persistence_small: month-to-month AR(1) coefficients.
        enso_std_k: amplitude of the ENSO-like mode (K).
        trend_k_per_decade: linear warming.
        events_per_month: mean number of new :class:`WeatherEvents` a month (0: a Gaussian field).
    """

    lat: np.ndarray
    lon: np.ndarray
    seed: int = 0
    land_fraction: float = 0.3
    anomaly_std_k: float = 0.5
    large_scale_km: float = 2500.0
    small_scale_km: float = 900.0
    persistence_large: float = 0.7
    persistence_small: float = 0.4
    enso_std_k: float = 0.8
    trend_k_per_decade: float = 0.15
    events_per_month: float = 0.0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        positions = unit_vectors(self.lat, self.lon)
        shape = (len(self.lat), len(self.lon))
        self.land = land_mask(positions, self.land_fraction, self.rng).reshape(shape)
        self.large = RandomField.draw(self.large_scale_km, self.rng).basis(positions)
        self.small = RandomField.draw(self.small_scale_km, self.rng).basis(positions)
        s = np.abs(np.sin(np.radians(self.lat)))[:, None]
        self.amplitude = self.anomaly_std_k * (1.0 + 2.0 * s) * (1.0 + 1.5 * self.land)
        self.small_weight = 0.4 + 0.5 * self.land  # land anomalies are less smooth
        self.enso = enso_pattern(self.lat, self.lon) * self.enso_std_k
        self.coef_large = self.rng.normal(size=self.large.shape[1])
        self.coef_small = self.rng.normal(size=self.small.shape[1])
        self.enso_index = self.rng.normal()
        events_rng = np.random.default_rng([self.seed, 1])  # its own stream: the Gaussian part is unchanged
        self.events = WeatherEvents(self.lat, self.lon, self.land, self.events_per_month, events_rng)
        self.months_drawn = 0

    def _step(self) -> None:
        for name, rho in (("coef_large", self.persistence_large), ("coef_small", self.persistence_small)):
            coef = getattr(self, name)
            setattr(self, name, rho * coef + np.sqrt(1 - rho**2) * self.rng.normal(size=coef.shape))
        self.enso_index = 0.9 * self.enso_index + np.sqrt(1 - 0.81) * self.rng.normal()

    def components(self) -> list[tuple[np.ndarray, float]]:
        """The anomaly as ``sum_k maps_k @ coefficients_k``: per random component, its map
        ``(n_cells, F_k)`` and month-to-month AR(1) coefficient; coefficients are N(0, 1)."""
        amplitude = self.amplitude.reshape(-1, 1)
        weight = self.small_weight.reshape(-1, 1)
        norm = np.sqrt(1 + weight**2)
        return [
            (amplitude / norm * self.large, self.persistence_large),
            (amplitude * weight / norm * self.small, self.persistence_small),
            (self.enso.reshape(-1, 1), 0.9),
        ]

    def mean_field(self, index: int) -> np.ndarray:
        """The deterministic part of month ``index``: climatology plus trend (K)."""
        return climatology(self.lat, self.land, index % 12 + 1) + self.trend_k_per_decade * index / 120.0

    def anomaly(self) -> np.ndarray:
        """Advance one month; the anomaly field (K) of that month."""
        self._step()
        shape = self.land.shape
        large = (self.large @ self.coef_large).reshape(shape)
        small = (self.small @ self.coef_small).reshape(shape)
        mixed = (large + self.small_weight * small) / np.sqrt(1 + self.small_weight**2)
        self.months_drawn += 1
        events = self.events.month((self.months_drawn - 1) % 12 + 1) if self.events_per_month > 0 else 0.0
        return self.amplitude * mixed + self.enso * self.enso_index + events

    def month(self, index: int) -> np.ndarray:
        """Temperature (K) of month ``index`` (0 = January of the first year); call in order."""
        return (self.mean_field(index) + self.anomaly()).astype(np.float32)


def simulator_of(parameters: Mapping[str, Any]) -> ClimateSimulator:
    """The simulator that wrote a file, from its ``sciimg_simulation`` record (same draws, same statistics)."""
    lat, lon = regular_grid(**parameters["grid"])
    return ClimateSimulator(lat, lon, parameters["seed"], **parameters["options"])


def simulate_climate_file(
    path: str | os.PathLike,
    n_years: int,
    seed: int,
    start_year: int = 1950,
    grid: Mapping[str, float] | None = None,
    provenance: Mapping[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Write ``n_years`` of monthly fields as CF NetCDF (``tas`` in K, ``sftlf``), atomically.

    Args:
        path: output ``.nc`` file.
        n_years: years of monthly fields.
        seed: random seed (same seed, same file).
        start_year: year of the first January.
        grid: ``lat_min, lat_max, lon_min, lon_max, dlat, dlon`` in degrees; the default is
            the 2.5 x 5 degree global grid (72 x 72 cells) of the HadCRUT4 sample file (data/samples/climate).
        provenance: recorded as the ``sciimg_provenance`` global attribute.
        **options: :class:`ClimateSimulator` options.
    """
    grid = {
        "lat_min": -90.0,
        "lat_max": 90.0,
        "lon_min": 0.0,
        "lon_max": 360.0,
        "dlat": 2.5,
        "dlon": 5.0,
        **(grid or {}),
    }
    lat, lon = regular_grid(**grid)
    simulator = ClimateSimulator(lat, lon, seed, **options)
    parameters = {"seed": seed, "start_year": start_year, "grid": grid, "options": options}
    n_months = 12 * n_years
    with atomic_path(path, suffix=".nc") as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        nc.Conventions = "CF-1.8"
        nc.title = "sciimg simulated monthly near-surface air temperature"
        nc.source = "sciimg.simulate.climate"
        if provenance is not None:
            nc.sciimg_provenance = json.dumps(provenance)
        nc.sciimg_simulation = json.dumps(parameters)  # enough to rebuild the simulator: its statistics are known
        nc.createDimension("time", None)
        nc.createDimension("lat", len(lat))
        nc.createDimension("lon", len(lon))
        time = nc.createVariable("time", "f8", ("time",))
        time.setncatts(
            {"standard_name": "time", "axis": "T", "units": f"days since {start_year}-01-01", "calendar": "360_day"}
        )
        for name, values, standard, units, axis in (
            ("lat", lat, "latitude", "degrees_north", "Y"),
            ("lon", lon, "longitude", "degrees_east", "X"),
        ):
            var = nc.createVariable(name, "f4", (name,))
            var.setncatts({"standard_name": standard, "units": units, "axis": axis})
            var[:] = values
        tas = nc.createVariable(
            "tas",
            "f4",
            ("time", "lat", "lon"),
            zlib=True,
            chunksizes=(1, len(lat), len(lon)),
            fill_value=np.float32(np.nan),
        )
        tas.setncatts({"standard_name": "air_temperature", "long_name": "Near-surface air temperature", "units": "K"})
        sftlf = nc.createVariable("sftlf", "f4", ("lat", "lon"))
        sftlf.setncatts({"standard_name": "land_area_fraction", "units": "1"})
        sftlf[:] = simulator.land.astype(np.float32)
        for start in range(0, n_months, BLOCK_MONTHS):
            months = range(start, min(start + BLOCK_MONTHS, n_months))
            tas[start : months[-1] + 1] = np.stack([simulator.month(m) for m in months])
            time[start : months[-1] + 1] = [30.0 * m + 15.0 for m in months]  # mid-month, 360-day calendar
    return Path(path)
