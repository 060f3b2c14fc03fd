"""Evaluate source catalogs of the test tiles against the simulator's truth catalogs.

Every method's catalog lists candidates with a ``score``; its operating point keeps those
at or above the catalog's ``THRESH``, calibrated to the target purity on the validation
split, for the model and for sep and photutils alike, so comparing the methods there compares
them at the purity each was set for without the test images choosing any cut. Detections
are matched one to one to truth sources within 1.5 pixels (:mod:`sciimg.scoring`).

* Completeness: share of truth sources found, per bin of their true signal-to-noise
  (:data:`SNR_BINS`; the simulator's SNR with the PSF's noise-equivalent area).
* Purity: share of detections matching a truth source (of any SNR), overall and per bin
  of the detection's own aperture SNR (radius 2.5 px, on the image minus the true sky),
  which every method gets measured the same way.
* At purity 0.95: the same figures at each catalog's ``LOOSECUT``, calibrated on validation
  to :data:`~sciimg.scoring.LOOSER_PURITY`, since at 0.99 a handful of bright, blended
  sources measured 1.5-3 pixels off can decide a method's cut.
* Position error (pixels) and flux error (relative, median and MAD scatter) of matched
  sources at SNR >= 5; completeness at SNR >= 5 within 4 px of an image border; and of
  close pairs (both SNR >= 5, 1.5-4 px apart) the share with both members found (deblending).
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
from astropy.stats import mad_std
from astropy.table import Table
from scipy.spatial import cKDTree

from sciimg.errors import InputError
from sciimg.evaluate.sky_clean import EDGE, sky_plane
from sciimg.evaluate.sky_plots import plot_completeness, plot_detection_cutouts
from sciimg.evaluate.verdict import ratio_figure, verdict
from sciimg.io.atomic import write_text_atomic
from sciimg.io.catalogs import read_catalog
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import sources_by_tile
from sciimg.provenance import provenance
from sciimg.scoring import LOOSER_PURITY, match_positions

SNR_BINS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0, 100.0, np.inf)
BRIGHT = 5.0  # SNR at which the targets apply, and above which errors are measured
APERTURE = 2.5  # pixels, for a detection's own SNR
PAIR_SEPARATION = (1.5, 4.0)  # pixels: close pairs a detector must deblend
TARGETS = {"completeness_at_snr_5": 0.9, "purity": 0.99}


def pair_centres(truth: DetectionTruth) -> list[list[tuple[float, float]]]:
    """Per tile, the (y, x) centres of its close pairs of bright sources (:func:`close_pairs`)."""
    centres = []
    for row in range(len(truth.sources)):
        yx = truth.yx(row)
        centres.append([tuple((yx[a] + yx[b]) / 2) for a, b in close_pairs(truth, row)])
    return centres


@dataclass
class DetectionTruth:
    """The test split's truth sources and images, tile by tile."""

    sources: list[np.ndarray]
    image: np.ndarray
    plane: np.ndarray
    sigma: np.ndarray
    at_edge: list[np.ndarray]

    @classmethod
    def from_store(cls, store: SampleStore) -> DetectionTruth:
        if "target" not in store.keys:
            raise InputError(f"{store.path}: has no clean truth to measure detections on (simulated images only)")
        sources = sources_by_tile(store)
        sigma = store.meta()["sigma"].astype(np.float64)
        clean = store.read("target")[:, 0].astype(np.float64)
        planes = np.stack([sky_plane(c, s) for c, s in zip(clean, sigma, strict=True)])
        return cls(sources, store.read("image")[:, 0].astype(np.float64), planes, sigma, edge_flags(store, sources))

    def yx(self, row: int) -> np.ndarray:
        return np.column_stack([self.sources[row]["y"], self.sources[row]["x"]])


def edge_flags(store: SampleStore, sources: list[np.ndarray]) -> list[np.ndarray]:
    """Per tile, whether each truth source lies within :data:`EDGE` pixels of its image's border."""
    meta, headers = store.meta(), store.extra()["headers"]
    flags = []
    for row, tile in enumerate(sources):
        header = fits.Header.fromstring(str(headers[int(meta["file"][row])]))
        y, x = tile["y"] + meta["y0"][row], tile["x"] + meta["x0"][row]
        distance = np.minimum.reduce([y + 0.5, x + 0.5, header["NAXIS2"] - 0.5 - y, header["NAXIS1"] - 0.5 - x])
        flags.append(distance < EDGE)
    return flags


def aperture_snr(image: np.ndarray, plane: np.ndarray, sigma: float, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Signal-to-noise of circular apertures (radius :data:`APERTURE`) on the image minus the true sky."""
    signal = np.nan_to_num(image - plane)
    r = int(np.ceil(APERTURE))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    inside = dy**2 + dx**2 <= APERTURE**2
    iy = np.clip(np.round(y).astype(int)[:, None] + dy[inside][None], 0, image.shape[0] - 1)
    ix = np.clip(np.round(x).astype(int)[:, None] + dx[inside][None], 0, image.shape[1] - 1)
    return signal[iy, ix].sum(axis=1) / (sigma * np.sqrt(inside.sum()))


def binned_share(values: np.ndarray, hits: np.ndarray, edges: tuple[float, ...] = SNR_BINS) -> list[float | None]:
    """Share of ``hits`` per bin of ``values`` (None where a bin is empty)."""
    index = np.digitize(values, edges) - 1
    return [float(hits[index == b].mean()) if (index == b).any() else None for b in range(len(edges) - 1)]


def close_pairs(truth: DetectionTruth, row: int) -> np.ndarray:
    """Index pairs of bright truth sources of a tile :data:`PAIR_SEPARATION` apart."""
    bright = np.flatnonzero(truth.sources[row]["snr"] >= BRIGHT)
    if len(bright) < 2:
        return np.empty((0, 2), int)
    pairs = cKDTree(truth.yx(row)[bright]).query_pairs(PAIR_SEPARATION[1], output_type="ndarray")
    if len(pairs) == 0:
        return np.empty((0, 2), int)
    yx = truth.yx(row)[bright]
    separation = np.hypot(*(yx[pairs[:, 0]] - yx[pairs[:, 1]]).T)
    return bright[pairs[separation >= PAIR_SEPARATION[0]]]


@dataclass
class Matched:
    """A catalog's candidates matched to the truth, over all test tiles."""

    score: np.ndarray  # per candidate
    real: np.ndarray  # per candidate: matches a truth source
    own_snr: np.ndarray  # per candidate: aperture SNR
    truth_snr: np.ndarray  # per truth source
    truth_edge: np.ndarray
    best_score: np.ndarray  # per truth source: score of its match (-inf: none)
    offsets: np.ndarray  # per truth source: distance to its match (pixels; NaN: none)
    flux_ratio: np.ndarray  # per truth source: matched flux / true flux
    pairs: np.ndarray  # close pairs as indices into the truth arrays


def match_catalog(catalog: Table, truth: DetectionTruth, cut: float) -> Matched:
    """Match, tile by tile, the candidates scoring at least ``cut`` (pass -inf for all) to the truth sources."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in Matched.__dataclass_fields__}
    rows = np.asarray(catalog["tile"])
    offset = 0
    for row in range(len(truth.sources)):
        found = catalog[(rows == row) & (np.asarray(catalog["score"]) >= cut)]
        yx = np.column_stack([np.asarray(found["y"], float), np.asarray(found["x"], float)])
        t, f = match_positions(truth.yx(row), yx)
        n_truth = len(truth.sources[row])
        real = np.zeros(len(found), bool)
        real[f] = True
        best, distance, ratio = np.full(n_truth, -np.inf), np.full(n_truth, np.nan), np.full(n_truth, np.nan)
        best[t] = np.asarray(found["score"], float)[f]
        distance[t] = np.hypot(*(truth.yx(row)[t] - yx[f]).T) if len(t) else distance[t]
        ratio[t] = np.asarray(found["flux"], float)[f] / truth.sources[row]["flux"][t]
        own = aperture_snr(truth.image[row], truth.plane[row], truth.sigma[row], yx[:, 0], yx[:, 1])
        for name, value in (
            ("score", np.asarray(found["score"], float)),
            ("real", real),
            ("own_snr", own),
            ("truth_snr", truth.sources[row]["snr"].astype(float)),
            ("truth_edge", truth.at_edge[row]),
            ("best_score", best),
            ("offsets", distance),
            ("flux_ratio", ratio),
            ("pairs", close_pairs(truth, row) + offset),
        ):
            parts[name].append(value)
        offset += n_truth
    return Matched(
        **{k: np.concatenate(v) if k != "pairs" else np.concatenate(v).reshape(-1, 2) for k, v in parts.items()}
    )


def operating_point(matched: Matched) -> dict[str, Any]:
    """Completeness, purity and errors of the candidates that were kept."""
    found = np.isfinite(matched.best_score)
    bright = matched.truth_snr >= BRIGHT
    at_5 = (matched.truth_snr >= BRIGHT) & (matched.truth_snr < SNR_BINS[SNR_BINS.index(BRIGHT) + 1])
    good = bright & found
    ratio = matched.flux_ratio[good] - 1
    edge = bright & matched.truth_edge
    pair_found = found[matched.pairs].all(axis=1) if len(matched.pairs) else np.empty(0, bool)
    return {
        "n_detections": len(matched.score),
        "purity": float(matched.real.mean()) if len(matched.real) else None,
        "completeness_at_snr_5": float(found[at_5].mean()) if at_5.any() else None,
        "completeness_snr_above_5": float(found[bright].mean()) if bright.any() else None,
        "completeness": binned_share(matched.truth_snr, found),
        "purity_by_own_snr": binned_share(matched.own_snr, matched.real),
        "position_error_median_px": float(np.median(matched.offsets[good])) if good.any() else None,
        "position_error_p68_px": float(np.percentile(matched.offsets[good], 68)) if good.any() else None,
        "flux_bias_median": float(np.median(ratio)) if good.any() else None,
        "flux_scatter_mad": float(mad_std(ratio)) if good.sum() > 1 else None,
        "completeness_at_edge": float(found[edge].mean()) if edge.any() else None,
        "n_at_edge": int(edge.sum()),
        "close_pairs_resolved": float(pair_found.mean()) if len(pair_found) else None,
        "n_close_pairs": len(pair_found),
    }


def tile_completeness(matched: Matched, truth: DetectionTruth) -> np.ndarray:
    """Per tile: truth sources at SNR 5-6 found at the method's cut, and their number."""
    tiles = np.repeat(np.arange(len(truth.sources)), [len(s) for s in truth.sources])
    at_5 = (matched.truth_snr >= BRIGHT) & (matched.truth_snr < SNR_BINS[SNR_BINS.index(BRIGHT) + 1])
    found = at_5 & np.isfinite(matched.best_score)
    n = len(truth.sources)
    return np.stack([np.bincount(tiles, found, n), np.bincount(tiles, at_5, n)], axis=1)


def at_cut(catalog: Table, truth: DetectionTruth, cut: float) -> dict[str, Any]:
    """Purity and completeness (per SNR bin too) of the candidates at or above ``cut``."""
    point = operating_point(match_catalog(catalog, truth, cut))
    keys = ("purity", "completeness_at_snr_5", "completeness_snr_above_5", "completeness")
    return {"cut": cut, **{k: point[k] for k in keys}}


def compare(methods: Mapping[str, Mapping[str, Any]], model: str) -> dict[str, Any]:
    """The model against the targets and against sep, bin by bin, each at its cut for the target purity."""
    ours = methods[model]
    result: dict[str, Any] = {"targets": TARGETS}
    met = {
        "completeness_at_snr_5": (ours["completeness_at_snr_5"] or 0) >= TARGETS["completeness_at_snr_5"],
        "purity": (ours["purity"] or 0) >= TARGETS["purity"],
    }
    if "sep" in methods:
        mine, theirs = ours["completeness"], methods["sep"]["completeness"]
        lower = [
            i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a is not None and b is not None and a < b
        ]
        result["bins_below_sep"] = [f"{SNR_BINS[i]:g}-{SNR_BINS[i + 1]:g}" for i in lower]
        met["completeness_at_least_sep_every_bin"] = not lower
    result["targets_met"] = met
    return result


def evaluate_sky_detection(
    experiment: str,
    predictions: Mapping[str, str | os.PathLike],
    test: str | os.PathLike,
    out_dir: str | os.PathLike,
    injection: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Score every method's catalog (see the module docstring); write ``metrics.json`` and figures."""
    out_dir = Path(out_dir)
    store = SampleStore(test)
    truth = DetectionTruth.from_store(store)
    purity = float(store.attrs["target_purity"])
    methods, catalogs, found_at_5 = {}, {}, {}
    for name, path in predictions.items():
        catalog = read_catalog(path)
        missing = [c for c in ("tile", "x", "y", "flux", "score") if c not in catalog.colnames]
        if missing or "THRESH" not in catalog.meta:
            raise InputError(f"{path}: a test-split catalog needs columns tile, x, y, flux, score and THRESH")
        catalogs[name] = catalog
        kept = catalog[np.asarray(catalog["score"]) >= float(catalog.meta["THRESH"])]
        matched = match_catalog(kept, truth, -np.inf)
        found_at_5[name] = tile_completeness(matched, truth)
        methods[name] = {"cut": float(catalog.meta["THRESH"]), **operating_point(matched)}
        if "LOOSECUT" in catalog.meta:
            methods[name][f"at_purity_{LOOSER_PURITY:g}"] = at_cut(catalog, truth, float(catalog.meta["LOOSECUT"]))
    model = next(iter(predictions))
    headline_figure = f"completeness at SNR {BRIGHT:g}-{SNR_BINS[SNR_BINS.index(BRIGHT) + 1]:g} at each method's cut"
    files = store.meta()["file"]
    headline = verdict(headline_figure, found_at_5, ratio_figure, False, model, list(methods), "tiles", files)
    figures = [
        plot_completeness(out_dir / "detection_completeness.png", methods, SNR_BINS),
        plot_detection_cutouts(out_dir / "detection_cutouts.png", truth, catalogs, pair_centres(truth)),
    ]
    n_truth = sum(len(s) for s in truth.sources)
    metrics: dict[str, Any] = {
        "experiment": experiment,
        "task": "detection",
        "modality": "sky",
        "verdict": headline,
        "n_test_tiles": len(truth.sources),
        "n_test_images": len(set(store.meta()["file"].tolist())),
        "n_truth_sources": n_truth,
        "n_truth_snr_above_5": int(sum((s["snr"] >= BRIGHT).sum() for s in truth.sources)),
        "target_purity": purity,
        "bins": {"snr_edges": [float(e) for e in SNR_BINS]},
        "methods": methods,
        "comparison": {f"{model} vs classical": compare(methods, model)},
        "figures": [f.name for f in figures],
        "definitions": {
            "completeness": "share of truth sources matched (1.5 px, one to one) per bin of true SNR",
            "purity": "share of detections matching a truth source of any SNR",
            "purity_by_own_snr": f"purity per bin of a detection's aperture SNR (r = {APERTURE} px, true sky off)",
            "cut": "the method's score cut, set on the validation split to reach target_purity there",
            f"at_purity_{LOOSER_PURITY:g}": f"the same at the cut set on validation for purity {LOOSER_PURITY:g}",
            "position_error_*": "distance of matched detections to the truth at SNR >= 5 (pixels)",
            "flux_bias_median, flux_scatter_mad": "matched flux / true flux - 1 at SNR >= 5",
            "completeness_at_edge": f"completeness at SNR >= 5 within {EDGE} px of an image border",
            "close_pairs_resolved": f"pairs at SNR >= 5 {PAIR_SEPARATION[0]}-{PAIR_SEPARATION[1]} px apart: both found",
        },
        "provenance": provenance(inputs=[test, *predictions.values()]),
    }
    if injection is not None:
        metrics["injection_recovery"] = json.loads(Path(injection).read_text())
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    store.close()
    return metrics
