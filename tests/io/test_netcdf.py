"""CF NetCDF fields: variables found by attributes, units, orders, round trip, bad files."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sciimg import samples
from sciimg.errors import InputError
from sciimg.io.netcdf import encode_times, open_field, open_fields, write_fields


def cf_file(path: Path, values: np.ndarray, lat: np.ndarray, lon: np.ndarray, units: str = "K", **names) -> Path:
    """A (time, lat, lon) file with CF attributes and arbitrary variable/coordinate names."""
    t, y, x = names.get("time", "t"), names.get("lat", "yy"), names.get("lon", "xx")
    ds = xr.Dataset(
        {names.get("var", "temp2m"): ((t, y, x), values, {"standard_name": "air_temperature", "units": units})},
        coords={
            t: (t, np.arange(len(values)) * 30.0 + 15, {"units": "days since 2000-01-01", "calendar": "360_day"}),
            y: (y, lat, {"standard_name": "latitude", "units": "degrees_north"}),
            x: (x, lon, {"units": "degrees_east"}),
        },
        attrs={"title": "test", "history": "made by a test"},
    )
    ds.to_netcdf(path)
    return path


def test_variable_and_coordinates_found_by_attributes_and_written_back_identically(tmp_path):
    rng = np.random.default_rng(0)
    lat, lon = np.linspace(60, -60, 7), np.arange(0, 360, 45.0)  # descending latitudes, 0..360
    values = (280 + rng.normal(size=(4, 7, 8))).astype(np.float32)
    values[1, 2, 3] = np.nan
    path = cf_file(tmp_path / "in.nc", values, lat, lon)
    field, info = open_field(path)
    assert (info.variable, info.lat_name, info.lon_name, info.time_name) == ("temp2m", "yy", "xx", "t")
    assert field.dims == ("time", "lat", "lon") and field.chunks is not None  # lazy dask array
    np.testing.assert_array_equal(field.values, values)
    flag = np.zeros(values.shape, np.int8)
    flag[1, 2, 3] = 1
    out = write_fields(
        tmp_path / "out.nc", field.values, info, lat, lon, encode_times(field.time, 4), flag, history="sciimg: test"
    )
    original, written = xr.open_dataset(path), xr.open_dataset(out)
    assert written.temp2m.attrs == original.temp2m.attrs and written.yy.attrs == original.yy.attrs
    np.testing.assert_array_equal(written.yy.values, lat)
    assert list(written.t.values) == list(original.t.values)  # same 360-day calendar dates
    assert written.attrs["history"].startswith("sciimg: test\nmade by a test")
    assert written.temp2m_infilled.attrs["flag_meanings"] == "observed infilled"
    np.testing.assert_array_equal(written.temp2m.values, values)


def test_celsius_is_read_in_kelvin_and_written_back_in_celsius(tmp_path):
    values = np.full((2, 3, 4), 15.0, np.float32)
    path = cf_file(tmp_path / "c.nc", values, np.array([-10.0, 0, 10]), np.array([-180.0, -90, 0, 90]), "degC")
    field, info = open_field(path)
    np.testing.assert_allclose(field.values, 288.15)
    out = write_fields(
        tmp_path / "o.nc", field.values, info, field.lat.values, field.lon.values, encode_times(field.time, 2)
    )
    written = xr.open_dataset(out)
    assert written.temp2m.attrs["units"] == "degC"
    np.testing.assert_allclose(written.temp2m.values, 15.0, rtol=1e-6)


def cut_in_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: cf_file(p, np.full((2, 3, 4), 15.0, np.float32), np.arange(3.0), np.arange(4.0), "K"),
            "says units 'K' but its values .* look like degrees Celsius",
        ),
        (
            lambda p: cf_file(p, np.full((2, 3, 4), 1.0, np.float32), np.arange(3.0), np.arange(4.0), "m s-1"),
            "must be in K or degC, got units .m s-1.",
        ),
        (
            lambda p: xr.Dataset({"tas": (("a", "b"), np.ones((2, 2)), {"units": "K"})}).to_netcdf(p) or p,
            "has no recognisable latitude coordinate",
        ),
        (
            lambda p: cut_in_half(
                cf_file(p, np.full((20, 30, 40), 280.0, np.float32), np.arange(30.0), np.arange(40.0))
            ),
            "not a readable NetCDF file",
        ),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.nc"
    make(path)
    with pytest.raises(InputError, match=f"bad.nc: .*{message}"):
        open_field(path)


def test_files_with_other_units_cannot_be_joined(tmp_path):
    lat, lon = np.arange(3.0), np.arange(4.0)
    a = cf_file(tmp_path / "a.nc", np.full((2, 3, 4), 280.0, np.float32), lat, lon, "K")
    b = cf_file(tmp_path / "b.nc", np.full((2, 3, 4), 7.0, np.float32), lat, lon, "degC")
    with pytest.raises(InputError, match=r"b.nc: units 'degC' .* do not match .*a.nc's 'K'"):
        open_fields([a, b])


def test_real_files_open_with_their_own_conventions():
    model, info = open_field(samples.path("hadcm3_north_america"))  # cftime 360-day calendar, 0..360 longitudes
    assert model.shape == (240, 37, 49) and info.variable == "air_temperature" and not info.is_anomaly
    hadcrut, info = open_field(samples.path("hadcrut4_gaps"))  # anomalies with real gaps
    assert info.is_anomaly and 0.6 < float(hadcrut.isnull().mean()) < 0.8
    wfde5, info = open_field(samples.path("wfde5_britain"))  # -180..180, sea as NaN
    assert info.variable == "Tair" and float(wfde5.lon.min()) < 0 and 250 < float(wfde5[0].mean()) < 290


def test_a_std_is_written_as_an_ancillary_uncertainty_and_not_read_as_a_second_temperature(tmp_path):
    lat, lon = np.linspace(-60, 60, 5), np.arange(0, 360, 60.0)
    values = (280 + np.random.default_rng(1).normal(size=(3, 5, 6))).astype(np.float32)
    field, info = open_field(cf_file(tmp_path / "in.nc", values, lat, lon))
    std = np.full(values.shape, 0.4, np.float32)
    flag = np.ones(values.shape, np.int8)
    out = write_fields(tmp_path / "out.nc", values, info, lat, lon, encode_times(field.time, 3), flag, std=std)
    written = xr.open_dataset(out)
    assert written.temp2m.attrs["ancillary_variables"] == "temp2m_std"
    assert written.temp2m_std.attrs["standard_name"] == "air_temperature standard_error"
    assert written.temp2m_std.attrs["units"] == "K" and np.allclose(written.temp2m_std.values, 0.4)
    again, again_info = open_field(out)  # a filled file can be filled again, or read by another tool
    assert again_info.variable == "temp2m"
    np.testing.assert_array_equal(again.values, values)
