"""CF-convention NetCDF temperature fields: lazy reading with xarray + dask, writing with coords kept.

Variables and coordinates are found by their CF attributes (``standard_name``, ``units``,
``axis``), not by fixed names. Inside sciimg a field is a lazy ``(time, lat, lon)`` array in
kelvin (anomalies: kelvin differences); the file's own names, attributes, coordinate
order (descending latitudes, 0..360 or -180..180 longitudes), units and calendar are kept
in :class:`FieldInfo` and written back on output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path

TEMPERATURE_NAMES = (
    "air_temperature",
    "surface_temperature",
    "sea_surface_temperature",
    "air_temperature_anomaly",
    "surface_temperature_anomaly",
)
KELVIN = ("K", "k", "kelvin", "Kelvin", "degK", "degrees_K", "deg_K")
CELSIUS = ("degC", "degrees_C", "deg_C", "degree_C", "degrees_Celsius", "celsius", "Celsius", "C", "°C")
PLAUSIBLE_KELVIN = (150.0, 350.0)  # median of an absolute near-surface temperature field
DEFAULT_TIME_CHUNK = 64
# netCDF-C keeps a chunk cache of up to 64 MiB per open variable; sciimg reads each field once,
# in order, so a small cache costs no speed and keeps the memory of a long ingest flat.
CHUNK_CACHE_BYTES = 4 << 20


@dataclass
class FieldInfo:
    """What is needed to write a field back as its source file had it."""

    source: str
    variable: str
    lat_name: str
    lon_name: str
    time_name: str | None
    units: str  # the file's units (K or a Celsius spelling)
    is_anomaly: bool
    attrs: dict[str, Any] = field(default_factory=dict)
    lat_attrs: dict[str, Any] = field(default_factory=dict)
    lon_attrs: dict[str, Any] = field(default_factory=dict)
    time_attrs: dict[str, Any] = field(default_factory=dict)
    global_attrs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (numpy attribute values become lists/numbers)."""
        return json.loads(json.dumps(asdict(self), default=_json_default))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldInfo:
        return cls(**data)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


COORDINATES = {
    # standard_name: (accepted units, CF axis, names accepted when a file has no attributes)
    "latitude": (("degrees_north", "degree_north", "degrees_N", "degree_N"), "Y", ("lat", "latitude")),
    "longitude": (("degrees_east", "degree_east", "degrees_E", "degree_E"), "X", ("lon", "longitude")),
}


def _find_coordinate(ds: xr.Dataset, path: Path, standard_name: str) -> str:
    """Name of the 1-D coordinate with the given CF standard name, units or axis."""
    units, axis, bare_names = COORDINATES[standard_name]

    def matches(name: str, var: xr.Variable) -> bool:
        attrs = var.attrs
        return (
            attrs.get("standard_name") == standard_name
            or attrs.get("units") in units
            or attrs.get("axis") == axis
            or (not attrs and name in bare_names)
        )

    found = [str(n) for n, v in ds.variables.items() if v.ndim == 1 and matches(str(n), v)]
    found = [n for n in found if n in ds.dims] or found
    if not found:
        raise InputError(
            f"{path}: has no recognisable {standard_name} coordinate (none has standard_name "
            f"{standard_name!r}, units {units[0]!r} or axis {axis!r}); variables: {sorted(map(str, ds.variables))}"
        )
    return found[0]


def _find_time(ds: xr.Dataset, lat: str, lon: str) -> str | None:
    for name, var in ds.variables.items():
        if name in (lat, lon) or var.ndim != 1:
            continue
        time_like = np.issubdtype(var.dtype, np.datetime64) or var.dtype == object
        if var.attrs.get("axis") == "T" or var.attrs.get("standard_name") == "time" or (name in ds.dims and time_like):
            return str(name)
    return None


def _find_variable(ds: xr.Dataset, path: Path, lat: str, lon: str, variable: str | None) -> str:
    if variable is not None:
        if variable not in ds.data_vars:
            raise InputError(f"{path}: has no variable {variable!r}; data variables: {sorted(ds.data_vars)}")
        return variable
    ancillary = {a for var in ds.data_vars.values() for a in str(var.attrs.get("ancillary_variables", "")).split()}
    gridded = [name for name, var in ds.data_vars.items() if {lat, lon} <= set(var.dims) and name not in ancillary]
    temperature = [
        name
        for name in gridded
        if ds[name].attrs.get("standard_name") in TEMPERATURE_NAMES or ds[name].attrs.get("units") in KELVIN + CELSIUS
    ]
    if len(temperature) == 1:
        return str(temperature[0])
    if not temperature:
        raise InputError(
            f"{path}: has no temperature variable on the ({lat}, {lon}) grid (standard_name in "
            f"{list(TEMPERATURE_NAMES)} or temperature units); gridded variables: {gridded}"
        )
    raise InputError(f"{path}: has several temperature variables {temperature}; name one with data.files.variable")


def _units(path: Path, var: xr.DataArray, name: str) -> str:
    units = str(var.attrs.get("units", ""))
    if units not in KELVIN + CELSIUS:
        raise InputError(f"{path}: variable {name!r} must be in K or degC, got units {units!r}")
    return units


def _is_anomaly(var: xr.DataArray, ds: xr.Dataset) -> bool:
    text = " ".join(str(var.attrs.get(k, "")) for k in ("standard_name", "long_name")).lower()
    title = str(ds.attrs.get("title", "")).lower()
    return "anomal" in text or "reference_period" in var.attrs or "anomal" in title


def _check_values_match_units(path: Path, data: xr.DataArray, units: str, name: str) -> None:
    """A field declared in K whose values are Celsius-like (or the reverse) is refused."""
    first = data.isel({data.dims[0]: 0}).values if data.ndim == 3 else data.values
    finite = first[np.isfinite(first)]
    if finite.size == 0:
        return  # an empty first step is judged by the all-NaN check at ingest
    median = float(np.median(finite))
    in_kelvin = PLAUSIBLE_KELVIN[0] <= median <= PLAUSIBLE_KELVIN[1]
    if (units in KELVIN) != in_kelvin:
        raise InputError(
            f"{path}: variable {name!r} says units {units!r} but its values (median {median:.1f}) "
            f"look like {'kelvin' if in_kelvin else 'degrees Celsius'}; fix the units attribute"
        )


def open_field(
    path: str | os.PathLike, variable: str | None = None, time_chunk: int = DEFAULT_TIME_CHUNK, kelvin: bool = True
) -> tuple[xr.DataArray, FieldInfo]:
    """Open one NetCDF temperature field lazily.

    Args:
        kelvin: convert Celsius temperatures to kelvin (else the values stay as stored).

    Returns:
        a dask-backed ``(time, lat, lon)`` DataArray in kelvin (a 2-D file gets a time axis
        of length 1), with coordinates ``time`` (if the file has one), ``lat`` and ``lon`` in
        the file's own order; and the :class:`FieldInfo` to write it back.

    Raises:
        InputError: unreadable file, no lat/lon, no (or several) temperature variables,
            units that are not a temperature or contradict the values.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: NetCDF file does not exist")
    netCDF4.set_chunk_cache(CHUNK_CACHE_BYTES)
    try:
        # lazy backend arrays, chunked below: one read per block of time steps, not one per stored chunk
        ds = xr.open_dataset(path, chunks=None, cache=False, decode_times=True, use_cftime=None)
    except Exception as error:  # netCDF4/HDF5 raise OSError, ValueError or RuntimeError on a corrupt file
        raise InputError(f"{path}: not a readable NetCDF file ({type(error).__name__}: {error})") from None
    lat = _find_coordinate(ds, path, "latitude")
    lon = _find_coordinate(ds, path, "longitude")
    name = _find_variable(ds, path, lat, lon, variable)
    var = ds[name]
    time = _find_time(ds, lat, lon)
    extra_dims = [d for d in var.dims if d not in (lat, lon, time)]
    for dim in extra_dims:  # e.g. a height axis of length 1
        if var.sizes[dim] != 1:
            raise InputError(f"{path}: variable {name!r} has an extra axis {dim!r} of length {var.sizes[dim]}")
        var = var.isel({dim: 0}, drop=True)
    units = _units(path, var, name)
    anomaly = _is_anomaly(var, ds)
    data = var.transpose(*([time] if time in var.dims else []), lat, lon)
    if time not in data.dims:
        data = data.expand_dims("time")
        time = None
    data = data.rename({**({time: "time"} if time else {}), lat: "lat", lon: "lon"})
    data = data.drop_vars([c for c in data.coords if c not in ("time", "lat", "lon")])
    data = data.chunk({"time": time_chunk, "lat": -1, "lon": -1}).astype(np.float32)
    if not anomaly:
        _check_values_match_units(path, data, units, name)
    if kelvin and units in CELSIUS and not anomaly:
        data = data + np.float32(273.15)
    info = FieldInfo(
        source=str(path),
        variable=name,
        lat_name=lat,
        lon_name=lon,
        time_name=time,
        units=units,
        is_anomaly=anomaly,
        attrs=dict(var.attrs),
        lat_attrs=dict(ds[lat].attrs),
        lon_attrs=dict(ds[lon].attrs),
        time_attrs=dict(ds[time].attrs) if time else {},
        global_attrs=dict(ds.attrs),
    )
    return data, info


def open_fields(
    paths: Sequence[str | os.PathLike], variable: str | None = None, time_chunk: int = DEFAULT_TIME_CHUNK
) -> tuple[xr.DataArray, FieldInfo]:
    """Open several files of one field (e.g. one per year) as one lazy series, sorted by time.

    Raises:
        InputError: the files differ in grid, units or anomaly/absolute kind (named).
    """
    opened = [open_field(p, variable, time_chunk) for p in paths]
    first, info = opened[0]
    for data, other in opened[1:]:
        same_grid = np.array_equal(data.lat, first.lat) and np.array_equal(data.lon, first.lon)
        if not same_grid:
            raise InputError(f"{other.source}: its lat/lon grid differs from that of {info.source}")
        if other.units != info.units or other.is_anomaly != info.is_anomaly:
            raise InputError(
                f"{other.source}: units {other.units!r} ({'anomaly' if other.is_anomaly else 'absolute'}) "
                f"do not match {info.source}'s {info.units!r} ({'anomaly' if info.is_anomaly else 'absolute'})"
            )
    if len(opened) == 1:
        return first, info
    series = xr.concat([d for d, _ in opened], dim="time")
    if "time" in series.coords:
        series = series.sortby("time")
    return series.chunk({"time": time_chunk}), info


def encode_times(times: xr.DataArray | None, n: int) -> tuple[np.ndarray, str, str]:
    """CF numeric times (values, units, calendar); ``arange(n)`` 'steps' for a field without time."""
    if times is None:
        return np.arange(n, dtype=np.float64), "steps", "none"
    values, units, calendar = xr.coding.times.encode_cf_datetime(times.values)
    return np.asarray(values, np.float64), units, calendar


def write_fields(
    path: str | os.PathLike,
    values: np.ndarray,
    info: FieldInfo,
    lat: np.ndarray,
    lon: np.ndarray,
    times: tuple[np.ndarray, str, str],
    flag: np.ndarray | None = None,
    history: str = "",
    provenance: Mapping[str, Any] | None = None,
    kelvin: bool = True,
    method_attrs: Mapping[str, Any] | None = None,
    std: np.ndarray | None = None,
) -> Path:
    """Write ``(time, lat, lon)`` kelvin ``values`` (``kelvin=False``: in the file's units) as the
    source file had them, atomically; ``method_attrs`` become ``sciimg_<key>`` global attributes
    (numbers as they are, anything else as JSON).

    The variable keeps its name, attributes and units (Celsius files are converted back),
    the coordinates keep their names, attributes, order and calendar. ``flag`` (same
    shape, 1 = filled by sciimg) is written as ``<variable>_infilled`` with CF flag
    attributes, ``std`` (same shape, K) as ``<variable>_std``; ``history`` is prepended to
    the global ``history`` attribute.
    """
    data = np.asarray(values, np.float32)
    if kelvin and info.units in CELSIUS and not info.is_anomaly:
        data = data - np.float32(273.15)
    time_values, time_units, calendar = times
    dims: tuple[str, ...] = (info.lat_name, info.lon_name)
    coords: dict[str, Any] = {
        info.lat_name: xr.Variable(info.lat_name, np.asarray(lat), info.lat_attrs),
        info.lon_name: xr.Variable(info.lon_name, np.asarray(lon), info.lon_attrs),
    }
    if info.time_name:
        dims = (info.time_name, *dims)
        time_attrs = {k: v for k, v in info.time_attrs.items() if k not in ("units", "calendar", "bounds")}
        coords[info.time_name] = xr.Variable(
            info.time_name, time_values, {**time_attrs, "units": time_units, "calendar": calendar}
        )
    else:
        data = data[0]
        flag = None if flag is None else flag[0]
        std = None if std is None else std[0]
    dropped = ("_FillValue", "missing_value", "grid_mapping", "ancillary_variables")  # ancillaries are not copied
    attrs = {k: v for k, v in info.attrs.items() if k not in dropped}
    variables = {info.variable: xr.Variable(dims, data, attrs)}
    if flag is not None:
        variables[f"{info.variable}_infilled"] = xr.Variable(
            dims,
            np.asarray(flag, np.int8),
            {
                "long_name": f"{info.variable} value filled by sciimg",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "observed infilled",
            },
        )
    if std is not None:  # a CF ancillary variable: an uncertainty, not a second temperature
        std_attrs = {"long_name": f"standard deviation of the {info.variable} value (0 where observed)", "units": "K"}
        if "standard_name" in attrs:
            std_attrs["standard_name"] = f"{attrs['standard_name']} standard_error"
        variables[f"{info.variable}_std"] = xr.Variable(dims, np.asarray(std, np.float32), std_attrs)
        variables[info.variable].attrs["ancillary_variables"] = f"{info.variable}_std"
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs.update({k: v for k, v in info.global_attrs.items() if k != "history"})
    ds.attrs["history"] = "\n".join(x for x in (history, str(info.global_attrs.get("history", ""))) if x)
    if provenance is not None:
        ds.attrs["sciimg_provenance"] = json.dumps(provenance)
    for key, value in (method_attrs or {}).items():
        ds.attrs[f"sciimg_{key}"] = value if isinstance(value, int | float) else json.dumps(value)
    encoding = {name: {"_FillValue": np.float32(np.nan), "zlib": True} for name in variables if name.endswith("_std")}
    encoding[info.variable] = {"_FillValue": np.float32(np.nan), "zlib": True}
    if info.time_name:
        encoding[info.time_name] = {"dtype": "float64"}
    with atomic_path(path, suffix=".nc") as tmp:
        ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4")
    return Path(path)


def read_land_fraction(path: str | os.PathLike, lat: np.ndarray, lon: np.ndarray) -> np.ndarray | None:
    """The file's land-area fraction (CF ``land_area_fraction``) on the field's grid, or None."""
    with xr.open_dataset(path, decode_times=False) as ds:
        for var in ds.data_vars.values():
            if var.attrs.get("standard_name") == "land_area_fraction" and var.shape == (len(lat), len(lon)):
                return np.nan_to_num(var.values.astype(np.float32))
    return None
