"""results/report.html: every experiment's model vs baseline table and figures, one page."""

from __future__ import annotations

import base64
import html
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

from sciimg.errors import ConfigError, InputError
from sciimg.io.atomic import write_text_atomic
from sciimg.version import __version__

Section = Callable[[dict, Path], str]  # one experiment's metrics and folder -> HTML

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } img { max-width: 100%; }
.better { background: #e3f4e3; }
"""


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def _energy_table(metrics: dict) -> str:
    bins = metrics["bins"]
    edges = bins["edges"]
    methods = list(metrics["methods"])
    head = "".join(f"<th>{html.escape(m)} resolution</th><th>{html.escape(m)} bias</th>" for m in methods)
    rows = [f"<tr><th>{html.escape(bins['quantity'])} [{html.escape(bins['unit'])}]</th><th>events</th>{head}</tr>"]
    first = metrics["methods"][methods[0]]
    for b in range(len(edges) - 1):
        resolutions = [metrics["methods"][m]["resolution"][b] for m in methods]
        known = [r for r in resolutions if r is not None]
        best = min(known) if known else None
        cells = ""
        for m, res in zip(methods, resolutions, strict=True):
            cls = ' class="better"' if res is not None and res == best and len(known) > 1 else ""
            cells += f"<td{cls}>{_fmt(res)}</td><td>{_fmt(metrics['methods'][m]['bias'][b])}</td>"
        rows.append(f"<tr><td>{edges[b]:.3g} - {edges[b + 1]:.3g}</td><td>{first['n_events'][b]}</td>{cells}</tr>")
    overall = "".join(
        f"<td>{_fmt(metrics['methods'][m]['resolution_all'])}</td><td>{_fmt(metrics['methods'][m]['bias_all'])}</td>"
        for m in methods
    )
    rows.append(f"<tr><th>all</th><th>{metrics['n_test_events']}</th>{overall}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _range_table(metrics: dict, key: str, label: str) -> str:
    """Resolution and bias per range of an image parameter, one column pair per method."""
    methods = [m for m in metrics["methods"] if key in metrics["methods"][m]]
    if not methods:
        return ""
    edges = metrics["methods"][methods[0]][key]["edges"]
    head = "".join(f"<th>{html.escape(m)} resolution</th><th>{html.escape(m)} bias</th>" for m in methods)
    rows = [f"<tr><th>{html.escape(label)}</th><th>events</th>{head}</tr>"]
    for b in range(len(edges) - 1):
        cells = "".join(
            f"<td>{_fmt(metrics['methods'][m][key]['resolution'][b])}</td>"
            f"<td>{_fmt(metrics['methods'][m][key]['bias'][b])}</td>"
            for m in methods
        )
        n = metrics["methods"][methods[0]][key]["n_events"][b]
        rows.append(f"<tr><td>{edges[b]:.3g} - {edges[b + 1]:.3g}</td><td>{n}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _comparison(metrics: dict) -> str:
    parts = []
    for pair, result in metrics.get("comparison", {}).items():
        ratios = [r for r in result["resolution_ratio"] if r is not None]
        worst = f"{max(ratios):.2f}" if ratios else "-"
        overall = result.get("resolution_ratio_all")
        overall_text = f"over all events {overall:.2f}, " if overall is not None else ""
        verdict = "met" if result["targets_met"] else "not met"
        parts.append(
            f"<p><b>{html.escape(pair)}</b>: resolution ratio {overall_text}per energy bin up to {worst}; "
            f"targets {html.escape(json.dumps(result['targets']))} <b>{verdict}</b>.</p>"
        )
    return "".join(parts)


def _method_table(methods: dict, names: list[str], key: str, best: float) -> str:
    """One row per method with the columns ``names``; the best value of ``key`` is highlighted."""
    rows = ["<tr><th>method</th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"]
    for method, values in methods.items():
        cls = ' class="better"' if values.get(key) == best else ""
        cells = "".join(f"<td{cls if n == key else ''}>{_fmt(values.get(n))}</td>" for n in names)
        rows.append(f"<tr><td>{html.escape(method)}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _definitions(metrics: dict) -> str:
    return "<p>" + "; ".join(f"<b>{k}</b>: {html.escape(v)}" for k, v in metrics["definitions"].items()) + "</p>"


def field_section(metrics: dict, folder: Path) -> str:
    """Temperature fields: one row per method, the comparison with the targets, the figures."""
    best = min(v["rmse"] for v in metrics["methods"].values())
    columns = ["rmse", "bias", "area_mean_rmse", "area_mean_r", "coverage_1sigma", "spread_over_rmse"]
    columns.append("cpu_seconds_per_field")
    table = _method_table(metrics["methods"], columns, "rmse", best)
    chosen = {m: v["settings"] for m, v in metrics["methods"].items() if v.get("settings")}
    parts = [
        f"<p>{metrics['n_test_steps']} test time steps from {len(metrics['test_years'])} held-out years; "
        f"{metrics['observed_fraction']:.0%} of cells observed.</p>",
        table,
        *(f"<p><b>{html.escape(m)}</b> settings: {html.escape(json.dumps(v))}</p>" for m, v in chosen.items()),
    ]
    for pair, result in metrics.get("comparison", {}).items():
        if result:
            ratios = {k: round(v, 3) for k, v in result.items() if k.startswith("rmse_ratio")}
            verdict = "met" if result["targets_met"] else "not met"
            parts.append(
                f"<p><b>{html.escape(pair)}</b>: {html.escape(json.dumps(ratios))} (best classical: "
                f"{html.escape(result['best_classical'])}); targets {html.escape(json.dumps(result['targets']))} "
                f"<b>{verdict}</b>.</p>"
            )
    parts += [_definitions(metrics), *(_image(folder / name) for name in metrics["figures"])]
    return "".join(parts)


def sky_section(metrics: dict, folder: Path) -> str:
    """Sky denoising: PSNR, SSIM and RMSE per method, the comparison with the targets, the cutouts."""
    best = max(v["psnr"] for m, v in metrics["methods"].items() if m != "noisy input")
    table = _method_table(metrics["methods"], ["psnr", "ssim", "rmse_sigma"], "psnr", best)
    parts = [
        f"<p>{metrics['n_test_tiles']} test tiles from {metrics['n_test_images']} held-out images; "
        f"model trained with target <b>{html.escape(metrics['training_target'])}</b>.</p>",
        table,
    ]
    for pair, result in metrics.get("comparison", {}).items():
        if "psnr_gain_over_bm3d_db" in result:
            verdict = "met" if result.get("targets_met") else "not met"
            targets = (
                f"; targets {html.escape(json.dumps(result['targets']))} <b>{verdict}</b>"
                if "targets" in result
                else ""
            )
            parts.append(
                f"<p><b>{html.escape(pair)}</b>: PSNR gain over BM3D {result['psnr_gain_over_bm3d_db']:+.2f} dB, "
                f"over the best classical ({html.escape(result['best_classical'])}) "
                f"{result['psnr_gain_over_best_classical_db']:+.2f} dB{targets}.</p>"
            )
    parts += [_definitions(metrics), *(_image(folder / name) for name in metrics["figures"])]
    return "".join(parts)


def _comparison_paragraphs(metrics: dict) -> list[str]:
    """Per comparison: its figures, the targets and which were met."""
    parts = []
    for pair, result in metrics.get("comparison", {}).items():
        shown = {k: v for k, v in result.items() if k not in ("targets", "targets_met")}
        parts.append(
            f"<p><b>{html.escape(pair)}</b>: {html.escape(json.dumps(shown))}; targets "
            f"{html.escape(json.dumps(result['targets']))}, met: {html.escape(json.dumps(result['targets_met']))}.</p>"
        )
    return parts


def sky_cleaning_section(metrics: dict, folder: Path) -> str:
    """Sky cleaning: detection (ROC points, operating point), inpainting and end-to-end scores per method."""
    methods = metrics["methods"]
    best = max(v.get("tpr_at_0.05%_fpr", -1) for v in methods.values())
    detection = ["tpr_at_0.05%_fpr", "tpr_at_0.5%_fpr", "found_cosmic_ray", "found_cosmic_ray_at_edge"]
    detection += ["found_defect", "found_trail", "fpr", "fpr_on_sources"]
    filling = [m for m, v in methods.items() if "inpaint_mse" in v]
    best_mse = min(methods[m]["inpaint_mse"] for m in filling) if filling else None
    inpainting = ["inpaint_mse", "flux_bias_median", "flux_error_median_abs", "n_sources_under_holes"]
    best_rmse = min(v["artefact_rmse"] for v in methods.values())
    pixels = ", ".join(f"{kind} {count:,}" for kind, count in metrics["pixels"].items())
    parts = [
        f"<p>{metrics['n_test_tiles']} test tiles from {metrics['n_test_images']} held-out images; "
        f"pixels: {html.escape(pixels)}.</p>",
        "<h3>Detection</h3>",
        _method_table(methods, detection, "tpr_at_0.05%_fpr", best),
        "<h3>Inpainting of the true artefacts</h3>",
        _method_table({m: methods[m] for m in filling}, inpainting, "inpaint_mse", best_mse) if filling else "",
        "<h3>Cleaned image</h3>",
        _method_table(methods, ["artefact_rmse", "damage_rms"], "artefact_rmse", best_rmse),
    ]
    parts += _comparison_paragraphs(metrics)
    parts += [_definitions(metrics), *(_image(folder / name) for name in metrics["figures"])]
    return "".join(parts)


def _best(methods: dict, key: str = "completeness_at_snr_5") -> tuple[str, float]:
    """The key to highlight and its highest value among the methods."""
    return key, max(v.get(key) or 0 for v in methods.values())


def sky_detection_section(metrics: dict, folder: Path) -> str:
    """Sky detection: completeness and purity at each method's cuts (set on validation); errors; injection-recovery."""
    methods = metrics["methods"]
    point = ["cut", "n_detections", "purity", "completeness_at_snr_5", "completeness_snr_above_5"]
    point += ["completeness_at_edge", "close_pairs_resolved"]
    errors = ["position_error_median_px", "position_error_p68_px", "flux_bias_median", "flux_scatter_mad"]
    looser = {m: e for m, v in methods.items() if (e := v.get("at_purity_0.95")) is not None}
    edges = metrics["bins"]["snr_edges"]
    bins = [f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(edges)]
    header = "".join(f"<th>{b}</th>" for b in bins)
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td>"
        + "".join("<td>-</td>" if c is None else f"<td>{c:.2f}</td>" for c in v["completeness"])
        + "</tr>"
        for m, v in methods.items()
    )
    parts = [
        f"<p>{metrics['n_test_tiles']} test tiles from {metrics['n_test_images']} held-out images; "
        f"{metrics['n_truth_sources']:,} truth sources ({metrics['n_truth_snr_above_5']:,} at SNR >= 5). "
        f"Every method's cuts are set on the validation images, to purity {metrics['target_purity']} "
        "(and 0.95); the test images choose none.</p>",
        "<h3>At each method's own cut</h3>",
        _method_table(methods, point, *_best(methods)),
        f"<table><tr><th>completeness by true SNR</th>{header}</tr>{rows}</table>",
        "<h3>At the cuts each method set on validation for purity 0.95</h3>" if looser else "",
        _method_table(looser, ["cut", "purity", "completeness_at_snr_5", "completeness_snr_above_5"], *_best(looser))
        if looser
        else "",
        "<h3>Position and flux of matched sources at SNR >= 5</h3>",
        _method_table(methods, errors, "position_error_median_px", None),
    ]
    parts += _comparison_paragraphs(metrics)
    injection = metrics.get("injection_recovery")
    if injection:
        parts.append("<h3>Injection-recovery on real images</h3>")
        bins = [f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(injection["snr_bins"])]
        for image, result in injection["images"].items():
            variants = (
                ("recovered", "recovered_by_snr", "", "detections_before"),
                ("recovered_at_equal_count", "recovered_by_snr_at_equal_count", " (equal count)", None),
            )
            rows = "".join(
                f"<tr><td>{html.escape(m)}{label}</td><td>{v[key]:.2f}</td>"
                + "".join("<td>-</td>" if c is None else f"<td>{c:.2f}</td>" for c in v[by_snr])
                + f"<td>{v[count] if count else result['equal_count']}</td></tr>"
                for key, by_snr, label, count in variants
                for m, v in result["methods"].items()
            )
            head = "".join(f"<th>SNR {b}</th>" for b in bins)
            parts.append(
                f"<p>{html.escape(image)}: {result['n_injected']} stars injected (PSF FWHM "
                f"{result['psf_fwhm_px']:.2f} px).</p><table><tr><th>method</th><th>recovered</th>{head}"
                f"<th>detections before injection</th></tr>{rows}</table>"
            )
        parts.append(_image(folder / injection["figure"]))
    parts += [_definitions(metrics), *(_image(folder / name) for name in metrics["figures"])]
    return "".join(parts)


def volume_section(metrics: dict, folder: Path) -> str:
    """Detector volumes: mean and per-class F1 per method, the voxel counts, the event views."""
    classes = metrics["classes"]
    best = max(v["mean_f1"] for v in metrics["methods"].values())
    columns = ["mean_f1", *(f"f1_{c}" for c in classes), "seconds_per_event_median"]
    counts = ", ".join(f"{name} {n:,}" for name, n in metrics["voxels_per_class"].items())
    parts = [
        f"<p>{metrics['n_test_events']:,} held-out events; occupied voxels per true class: {html.escape(counts)}.</p>",
        _method_table(metrics["methods"], columns, "mean_f1", best),
        _definitions(metrics),
        *(_image(folder / name) for name in metrics["figures"]),
    ]
    return "".join(parts)


def keypoint_section(metrics: dict, folder: Path) -> str:
    """Detector keypoints: efficiency at purity 0.9 and with every point, within 3 and 10 voxels, per method."""
    methods = metrics["methods"]
    key = "efficiency_at_purity_0.9_within_3_voxels"
    best = max((v.get(key) or 0) for v in methods.values())
    columns = [key, "purity_at_that_cut_within_3_voxels", "efficiency_at_purity_0.9_within_10_voxels"]
    columns += ["efficiency_all_points_within_3_voxels", "purity_all_points_within_3_voxels", "n_points"]
    columns += ["seconds_per_event_median"]
    parts = [
        f"<p>{metrics['n_test_events']:,} held-out events with {metrics['n_truth_keypoints']:,} truth track "
        "end points.</p>",
        _method_table(methods, columns, key, best),
        _definitions(metrics),
        *(_image(folder / name) for name in metrics["figures"]),
    ]
    return "".join(parts)


def denoise_section(metrics: dict, folder: Path) -> str:
    """Detector denoising: noise removed (per kind), signal kept (per class) and the noise F1, per method."""
    methods = metrics["methods"]
    best = max((v.get("noise_f1") or 0) for v in methods.values())
    detail = sorted({k for v in methods.values() for k in v if k.startswith(("noise_removed_", "kept_"))})
    columns = ["noise_f1", "noise_removed", "signal_kept", "signal_charge_kept", "kept_purity"]
    columns += ["noise_left_per_event", *detail, "seconds_per_event_median"]
    voxels = metrics["voxels"]
    parts = [
        f"<p>{metrics['n_test_events']:,} held-out events: {voxels['signal']:,} signal and "
        f"{voxels['noise']:,} noise voxels.</p>",
        _method_table(methods, columns, "noise_f1", best),
        _definitions(metrics),
        *(_image(folder / name) for name in metrics["figures"]),
    ]
    return "".join(parts)


def _image(path: Path) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<p><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}"></p>'


def energy_section(metrics: dict, folder: Path) -> str:
    """Energy regression: resolution and bias per energy bin and method, the comparison, the figures."""
    parts = []
    for name, values in metrics["methods"].items():
        if "coverage_1sigma" in values:
            parts.append(
                f"<p>{html.escape(name)}: predicted 1-sigma interval covers "
                f"{values['coverage_1sigma']:.1%} of test events (ideal 68.3%).</p>"
            )
    cuts = metrics.get("quality_cuts")
    if cuts:
        parts.append(f"<p>Quality cuts (both methods, same events): {html.escape(json.dumps(cuts))}</p>")
    parts.append(_energy_table(metrics))
    parts.append(_comparison(metrics))
    parts.append(_range_table(metrics, "by_intensity", "intensity [p.e.]"))
    parts.append(_range_table(metrics, "by_leakage", "leakage (2 rings)"))
    parts.append(_definitions(metrics))
    for figure in ("energy_resolution.png", "energy_migration.png", "examples.png"):
        parts.append(_image(folder / figure))
    return "".join(parts)


def read_metrics(path: str | os.PathLike) -> dict:
    """An experiment's ``metrics.json``, checked to be a JSON object naming its experiment, task and modality."""
    path = Path(path)
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as error:  # missing, a folder, not JSON, not UTF-8
        raise InputError(f"{path}: not a readable metrics.json ({error})") from None
    missing = [k for k in ("experiment", "task", "modality") if not isinstance(metrics, dict) or k not in metrics]
    if missing:
        raise InputError(
            f"{path}: a metrics.json is a JSON object with experiment, task and modality; {missing} missing"
        )
    return metrics


def compression_paragraph(folder: Path) -> str:
    """What ``sciimg compress`` measured for the experiment in ``folder`` (``compressed/compression.json``), if
    it ran."""
    path = folder / "compressed" / "compression.json"
    if not path.is_file():
        return ""
    try:
        record = json.loads(path.read_text())
        metric = record["headline"]["metric"]
        before, after = record["original"]["metrics"][metric], record["compressed"]["metrics"][metric]
        sizes = record["original"]["parameters"], record["compressed"]["parameters"]
        loss, limit, speedup = record["headline_loss"], record["options"]["max_loss"], record["speedup"]
        published = record["published"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a compression record of sciimg compress ({error!r})") from None
    verdict = "published in compressed/model" if published else "not published"
    return (
        f"<p><b>Compressed</b> (distilled student, widths x{record['options']['width']}, {sizes[1]:,} of "
        f"{sizes[0]:,} weights; on the validation split): {html.escape(metric)} {before:.4g} &rarr; {after:.4g} "
        f"({100 * loss:+.1f} % worse; at most {100 * limit:.1f} % allowed), predicting {speedup:.2f}x as fast; "
        f"{verdict}.</p>"
    )


def write_report(
    metrics_files: list[str | os.PathLike], output: str | os.PathLike, section_of: Callable[[dict], Section]
) -> Path:
    """Write a self-contained HTML report (figures embedded) from ``metrics.json`` files.

    The page opens with each experiment's one-line verdict (:mod:`sciimg.evaluate.verdict`).

    ``section_of(metrics)`` gives the function that renders one experiment's metrics (and the
    figures in its folder) as HTML: its kind's report section.
    """
    loaded = [(read_metrics(f), Path(f).parent) for f in metrics_files]
    verdicts = "".join(
        f"<li><b>{html.escape(metrics['experiment'])}</b> ({html.escape(metrics['task'])}): "
        f"{html.escape(metrics['verdict']['text'])}</li>"
        for metrics, _ in loaded
        if "verdict" in metrics
    )
    parts = [
        f"<h1>sciimg report</h1><p>sciimg {html.escape(__version__)}. "
        "All figures are on held-out test events; every model sits next to its classical baseline.</p>",
        f"<h2>Verdicts</h2><ul>{verdicts}</ul>" if verdicts else "",
    ]
    for (metrics, folder), metrics_file in zip(loaded, metrics_files, strict=True):
        parts.append(f"<h2>{html.escape(metrics['experiment'])} ({html.escape(metrics['task'])})</h2>")
        try:
            section = section_of(metrics)
        except ConfigError as error:
            raise InputError(f"{metrics_file}: {error}") from None
        parts.append(section(metrics, folder) + compression_paragraph(folder))
    head = f"<head><meta charset='utf-8'><title>sciimg report</title><style>{STYLE}</style></head>"
    page = f"<!DOCTYPE html><html>{head}<body>{''.join(parts)}</body></html>"
    write_text_atomic(output, page)
    return Path(output)
