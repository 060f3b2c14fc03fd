"""Run a named baseline: fit on the train store, predict the test store, write a table."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from sciimg.baselines import baseline_class
from sciimg.errors import ConfigError, InputError
from sciimg.io.atomic import atomic_path
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of
from sciimg.provenance import provenance

log = logging.getLogger(__name__)


def run_field_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Fill (or denoise) every test field with a classical method; NetCDF like the model's output."""
    from sciimg.baselines.infill import FIELD_BASELINES
    from sciimg.inference.fields import filled_cells, write_store_fields

    if name not in FIELD_BASELINES:
        raise ValueError(f"baseline must be one of {sorted(FIELD_BASELINES)} for temperature fields, got {name!r}")
    method = FIELD_BASELINES[name]().fit(train)
    extra = test.extra()
    lat, lon, domain = extra["lat"], extra["lon"], extra["domain"].astype(bool)
    corruption = test.attrs["corruption"]
    fields = np.full((len(test), len(lat), len(lon)), np.nan, np.float32)
    filled = np.zeros(fields.shape, bool)
    for row in range(len(test)):
        sample = test[row]
        image = sample["image"][0]
        observed = domain.copy() if corruption == "noise" else np.isfinite(image) & domain
        fields[row] = method.fill(image, observed, lat, lon)
        filled[row] = filled_cells(corruption, observed, domain)
    fields[:, ~domain] = np.nan
    log.info("%s: %d test fields", name, len(test))
    return write_store_fields(test.path, fields, filled, output, f"baseline {name}", [train.path, test.path])


FIT_TILES = 32  # train tiles a sky denoiser's parameters are chosen on


def run_sky_cleaner(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Find and fill artefacts in every test tile with a classical method; FITS tiles like the model's output."""
    from astropy.io import fits

    from sciimg.baselines.sky_clean import clean_tile
    from sciimg.baselines.sky_denoise import store_tiles
    from sciimg.data.ingest_sky import artefact_holes
    from sciimg.io.fits_tiles import write_tile_images

    files, dilation = test.meta()["file"], int(test.attrs["mask_dilation"])
    saturation = [float(fits.Header.fromstring(str(h)).get("SATURATE", np.inf)) for h in test.extra()["headers"]]
    layers: dict[str, list[np.ndarray]] = {}
    for row, tile in enumerate(store_tiles(test)):
        holes = artefact_holes(test[row]["labels"][0], dilation) | ~tile.usable
        for layer, image in clean_tile(name, tile, saturation[int(files[row])], holes).items():
            layers.setdefault(layer, []).append(image)
    log.info("%s: %d test tiles", name, len(test))
    stacked = {layer: np.stack(images) for layer, images in layers.items()}
    return write_tile_images(test.path, stacked, output, f"baseline {name}", [test.path])


def run_sky_detector(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Candidates of every test tile by a classical detector, with the cut calibrated on the train split."""
    from astropy.table import vstack

    from sciimg.baselines.sky_denoise import store_tiles
    from sciimg.baselines.sky_detect import DETECT_SIGMA, SKY_DETECTORS, calibrate_cut
    from sciimg.data.ingest_sky import sources_by_tile
    from sciimg.io.catalogs import write_catalog

    detect = SKY_DETECTORS[name]
    target = float(test.attrs["target_purity"])
    cut = calibrate_cut((detect(tile) for tile in store_tiles(train)), sources_by_tile(train), target)
    log.info("%s: score cut %.3f reaches purity %.3f on %d train tiles", name, cut, target, len(train))
    tables = []
    for row, tile in enumerate(store_tiles(test)):
        table = Table(detect(tile))
        table.add_column(np.full(len(table), row), index=0, name="tile")
        tables.append(table)
    table = vstack(tables)
    table["x"].unit = table["y"].unit = "pix"
    table["flux"].unit = test.attrs["units"]["image"]
    table.meta.update({"THRESH": cut, "FLOOR": DETECT_SIGMA, "BASELINE": name})
    log.info("%s: %d candidates in %d test tiles", name, len(table), len(test))
    prov = provenance(inputs=[train.path, test.path])
    return write_catalog(table, output, prov, f"baseline {name} (candidates; cut at score THRESH)")


def run_sky_denoiser(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Denoise every test tile with a classical method, its parameters chosen on train tiles; FITS like the model's."""
    from sciimg.baselines.sky_denoise import SKY_DENOISERS, store_tiles
    from sciimg.io.fits_tiles import write_tile_images

    if name not in SKY_DENOISERS:
        raise ValueError(f"baseline must be one of {sorted(SKY_DENOISERS)} for sky denoising, got {name!r}")
    chosen = set(np.random.default_rng(0).permutation(len(train))[:FIT_TILES].tolist())
    tiles = [tile for row, tile in enumerate(store_tiles(train)) if row in chosen]
    clean = [train[row]["target"][0] for row in sorted(chosen)] if "target" in train.keys else None
    method = SKY_DENOISERS[name]().fit(tiles, clean)
    images = np.stack([method.denoise(tile) for tile in store_tiles(test)])
    log.info("%s: %d test tiles", name, len(images))
    return write_tile_images(test.path, {"TILE": images}, output, f"baseline {name}", [train.path, test.path])


FIT_EVENTS = 60  # train events a volume baseline's cuts are chosen on


def run_keypoint_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Track end points of every test event by PCA of straight clusters, the cuts fitted on train events."""
    import time

    from sciimg.baselines.volume_keypoints import PCAEnds
    from sciimg.data.ingest_volumes import stored_events, stored_keypoints
    from sciimg.data.voxels import VoxelGrid
    from sciimg.inference.volume_keypoints import point_catalog, point_rows
    from sciimg.io.catalogs import write_catalog

    if name != "pca_ends":
        raise ValueError(f"baseline must be one of ['pca_ends'] for detector keypoints, got {name!r}")
    truth = stored_keypoints(train)[:FIT_EVENTS]
    fitting = [(e.coords, e.values, t) for e, t in zip(stored_events(train)[:FIT_EVENTS], truth, strict=True)]
    method = PCAEnds.fit(fitting)
    log.info("%s: cuts %s fitted on %d train events", name, method, len(fitting))
    grid = VoxelGrid.of(**test.attrs["grid"])
    rows, seconds = [], []
    for event in stored_events(test):
        started = time.perf_counter()
        points, scores = method.find(event.coords, event.values)
        seconds.append(time.perf_counter() - started)
        rows.append(point_rows(event.event_id, points, scores, grid))
    table = point_catalog(rows, grid, seconds)
    table.meta.update({"baseline": name, "cuts": {key: float(value) for key, value in method.__dict__.items()}})
    prov = provenance(inputs=[train.path, test.path])
    return write_catalog(table, output, prov, f"baseline {name} (all end points; score = cluster linearity)")


def run_denoise_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Noise voxels of every test event removed by threshold and isolation, the cuts fitted on train events."""
    import time

    from sciimg.baselines.volume_denoise import ThresholdIsolated
    from sciimg.data.ingest_volumes import stored_events
    from sciimg.inference.volume_denoise import kept_voxels, write_denoised

    if name != "threshold_isolated":
        raise ValueError(f"baseline must be one of ['threshold_isolated'] for detector denoising, got {name!r}")
    noise = list(test.attrs["classes"]).index("noise")
    fitting = [(e.coords, e.values, e.semantic == noise) for e in stored_events(train)[:FIT_EVENTS]]
    method = ThresholdIsolated.fit(fitting)
    log.info("%s: cuts %s fitted on %d train events", name, method, len(fitting))
    events, n_removed, seconds = [], [], []
    for event in stored_events(test):
        started = time.perf_counter()
        keep = method.keep(event.coords, event.values)
        seconds.append(time.perf_counter() - started)
        events.append(kept_voxels(event, keep))
        n_removed.append(int((~keep).sum()))
    attrs = {
        "value_units": test.attrs["units"]["image"],
        "baseline": name,
        "cuts": {key: float(value) for key, value in method.__dict__.items()},
        "provenance": provenance(inputs=[train.path, test.path]),
    }
    return write_denoised(output, events, n_removed, seconds, test.attrs["grid"], attrs)


def run_volume_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """Voxel classes of every test event by the classical chain, its cuts fitted on train events."""
    import time

    from sciimg.baselines.volume_segment import ThresholdPCA
    from sciimg.data.ingest_volumes import stored_events
    from sciimg.io.volumes import SparseEvent, write_sparse_volumes

    if name != "threshold_pca":
        raise ValueError(f"baseline must be one of ['threshold_pca'] for detector volumes, got {name!r}")
    classes = list(test.attrs["classes"])
    missing = sorted({"track", "shower", "low_energy", "noise"} - set(classes))
    if missing:
        raise InputError(
            f"{test.path}: threshold_pca names the classes track, shower, low_energy and noise; {missing} "
            f"are not among the data's classes {classes}"
        )
    fitting = [(e.coords, e.values, e.semantic) for e in stored_events(train)[:FIT_EVENTS]]
    method = ThresholdPCA.fit(fitting, classes)
    log.info("%s: cuts %s fitted on %d train events", name, method, len(fitting))
    predicted, seconds = [], []
    for event in stored_events(test):
        started = time.perf_counter()
        labels = method(event.coords, event.values, classes)
        seconds.append(time.perf_counter() - started)
        predicted.append(SparseEvent(event.event_id, event.coords, event.values, semantic=labels))
    grid = test.attrs["grid"]
    attrs = {
        "grid": grid["shape"],
        "pitch_mm": grid["pitch_mm"],
        "origin_mm": grid["origin_mm"],
        "classes": classes,
        "value_units": test.attrs["units"]["image"],
        "seconds_per_event": seconds,
        "baseline": name,
        "cuts": {key: float(value) for key, value in method.__dict__.items()},
        "provenance": provenance(inputs=[train.path, test.path]),
    }
    return write_sparse_volumes(output, predicted, attrs)


def run_table_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """A regressor of event parameters, fitted on the train store; an ECSV table of the test events."""
    target = test.attrs["target_name"]
    method = baseline_class(name)()
    train_meta = train.meta()
    method.fit(train_meta, train.read("target") if "target" in train.keys else train_meta[target])
    meta = test.meta()
    reco = method.predict(meta)
    unit = test.attrs["units"].get("target") or None
    ids = [key for key in ("obs_id", "event_id", "tel_id") if key in meta]
    table = Table({**{key: meta[key] for key in ids}, target: meta[target]})
    table[target].unit = unit
    table["reco_" + target.removeprefix("true_")] = reco
    table["reco_" + target.removeprefix("true_")].unit = unit
    table.meta.update({"baseline": name, "fitted_on": train.path.name})
    table.meta["provenance"] = provenance(inputs=[train.path, test.path])
    with atomic_path(output) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(output)


def run_baseline(name: str, train: str | os.PathLike, test: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Fit baseline ``name`` on ``train`` and write its test-split predictions to ``output``.

    The output is what the experiment's kind writes (see its ``baseline_runner``): ECSV tables
    for regressors and keypoints, NetCDF for temperature fields, FITS for sky images, sparse
    HDF5 for detector voxels.

    Raises:
        ConfigError: ``name`` is not a baseline of the test store's kind.
    """
    train_store, test_store = SampleStore(train), SampleStore(test)
    kind = kind_of(test_store.attrs)
    if name not in kind.baselines:
        raise ConfigError(
            f"baseline must be one of {list(kind.baselines)} for {kind.modality} {kind.task}, got {name!r}"
        )
    return kind.load("baseline_runner")(name, train_store, test_store, output)
