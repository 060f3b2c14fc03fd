"""``make bench``: speed and scale as ratios measured within one run; writes results/bench/bench.json.

Figures:

1. framework overhead: training samples/s of a sciimg task in a Lightning Trainer vs a bare
   PyTorch loop with the same network, loss, optimiser, batch size and in-memory data;
   2D ResNet-18 and 3D ResNet-18 (goal >= 0.95).
2. input pipeline: samples/s the training DataLoader delivers from an HDF5 sample store
   (0 and 2 workers) vs samples/s the model trains on (goal: loader >= 4x model).
3. tiled inference: pixels/s of sliding-window inference vs one whole-image pass on an
   image that fits (goal >= 0.9), and peak memory of denoising FITS images of 1k, 2k and
   4k pixels square from file to file (goal: flat).
4. ingest: MB/s of NetCDF -> sample store vs reading the same field with xarray alone, and
   of FITS -> tile store vs reading the images with astropy alone (goal >= 0.5), and each
   against the least an ingest can do (read, then write the same values to HDF5); peak
   memory of the NetCDF ingest as the input grows 10x (goal: flat).
5. against the tools users would pick instead: wall time of cleaning (finding and filling
   cosmic rays in) a simulated 4096 x 4096 FITS image with the sky-cleaning networks of
   configs/sky.yaml vs astroscrappy's LA Cosmic at its defaults on the same image (one run
   each: the image is large); and source detection of a simulated 2048 x 2048 image, the
   sky_detect network (file to catalog) vs sep (background, extraction, Kron fluxes and
   windowed positions, as the sep baseline runs); and Cherenkov energy inference, events/s
   of the default config's CNN (PyTorch and ONNX Runtime) vs Hillas + random forest. The sky
   networks run in both of sciimg's runtimes (PyTorch, ONNX Runtime), timed in the same run.
6. scaling: time per training epoch vs dataset size 1x, 2x, 4x (fitted exponent, ideal 1);
   inference time vs image side (2D, ideal 2) and volume side (3D, ideal 3).

Every figure is the median of ``--repeats`` runs with the min-max spread, all on this machine
in one process, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import h5py
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import sciimg
from sciimg.tasks import RegressionTask

BACKBONE = {"widths": [16, 32, 48, 64], "blocks_per_stage": [1, 1, 1, 1], "norm": "group"}


class InMemory(Dataset):
    """Random images with positive targets, already in memory."""

    def __init__(self, n: int, shape: tuple[int, ...], seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, *shape, generator=generator)
        self.targets = 10 ** torch.rand(n, generator=generator)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[index], "target": self.targets[index]}


def spread(values: list[float]) -> dict[str, float]:
    """Median and min-max of repeated measurements."""
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def timed(function: Callable[[], Any], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def timed_pair(first: Callable[[], Any], second: Callable[[], Any], repeats: int) -> tuple[list[float], list[float]]:
    """Wall times of two functions measured in turns (after one warm-up call each).

    Taking turns puts both under the same spells of machine load, which on a shared CPU
    otherwise swing one of them by up to 30 %.
    """
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for function, out in zip((first, second), times, strict=True):
            start = time.perf_counter()
            function()
            out.append(time.perf_counter() - start)
    return times


def task(spatial_dims: int, in_channels: int) -> RegressionTask:
    L.seed_everything(0, verbose=False)
    return RegressionTask(
        backbone="resnet18",
        backbone_options=BACKBONE,
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        heteroscedastic=True,
        scheduler="none",
    )


def lightning_epoch(model: RegressionTask, loader: DataLoader) -> None:
    """One training epoch of the sciimg task through Lightning, no logging or checkpoints."""
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, train_dataloaders=loader)


def bare_epoch(model: RegressionTask, loader: DataLoader, optimizer: torch.optim.Optimizer) -> None:
    """The same epoch as a plain PyTorch loop: forward, Gaussian NLL, backward, step."""
    network, loss_fn = model.predictor.model.train(), torch.nn.GaussianNLLLoss(full=True)
    for batch in loader:
        out = network(batch["image"])
        mean, var = out[:, 0], torch.exp(out[:, 1].clamp(-20.0, 20.0))
        loss = loss_fn(mean, torch.log10(batch["target"]), var)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def framework_overhead(repeats: int) -> dict[str, Any]:
    """Figure 1: Lightning task / bare loop training throughput."""
    results = {}
    for name, dims, shape, n in (("resnet18_2d", 2, (3, 64, 64), 512), ("resnet18_3d", 3, (1, 24, 24, 24), 192)):
        data = InMemory(n, shape)
        loader = DataLoader(data, batch_size=32, shuffle=True)
        model = task(dims, shape[0])
        optimizer = torch.optim.AdamW(model.predictor.model.parameters(), lr=1e-3)
        sciimg_s, bare_s = timed_pair(
            lambda m=model, dl=loader: lightning_epoch(m, dl),
            lambda m=model, dl=loader, o=optimizer: bare_epoch(m, dl, o),
            repeats,
        )
        sciimg_rate, bare_rate = [n / t for t in sciimg_s], [n / t for t in bare_s]
        results[name] = {
            "sciimg_samples_per_s": spread(sciimg_rate),
            "bare_samples_per_s": spread(bare_rate),
            "ratio": float(np.median(sciimg_rate) / np.median(bare_rate)),
            "goal": ">= 0.95",
        }
    return results


def camera_store(directory: Path, n_events: int) -> tuple[Path, dict[str, Any], Path]:
    """A simulated Cherenkov train store of the default config's kind, that experiment and the DL1 file."""
    import yaml

    from sciimg.config import validate_config
    from sciimg.data.ingest_cherenkov import ingest_cherenkov
    from sciimg.simulate.cherenkov import simulate_cherenkov_file

    config = validate_config(yaml.safe_load(Path("configs/default.yaml").read_text()))
    spec = next(iter(config["experiments"].values()))
    options = dict(spec["data"]["simulate"])
    options.pop("n_events"), options.pop("seed")
    dl1 = directory / "bench.dl1.h5"
    simulate_cherenkov_file(dl1, n_events, 1, **options)
    spec = {**spec, "data": {**spec["data"], "split": {"train": 0.8, "val": 0.1, "test": 0.1}}}
    return ingest_cherenkov([dl1], directory / "stores", spec)["train"], spec, dl1


def input_pipeline(directory: Path, repeats: int) -> dict[str, Any]:
    """Figure 2: DataLoader samples/s from the HDF5 store vs model training samples/s."""
    from sciimg.data.dataset import StoreDataModule

    store, spec, _ = camera_store(directory, 1500)
    batch_size, augment = 64, spec["data"]["augment"]
    results: dict[str, Any] = {"batch_size": batch_size}
    for workers in (0, 2):
        data = StoreDataModule(
            str(store), str(store), batch_size=batch_size, num_workers=workers, dataset_options={"augment": augment}
        )
        data.setup("fit")
        loader = data.train_dataloader()
        n = results["store_samples"] = len(loader.sampler)
        rates = [n / t for t in timed(lambda dl=loader: [None for _ in dl], repeats)]
        results[f"loader_{workers}_workers_samples_per_s"] = spread(rates)
    batches = [batch for batch, _ in zip(loader, range(4), strict=False)]  # what the model trains on
    model = task(2, batches[0]["image"].shape[1])
    optimizer = torch.optim.AdamW(model.predictor.model.parameters(), lr=1e-3)
    seconds = timed(lambda: bare_epoch(model, batches, optimizer), repeats)
    results["model_samples_per_s"] = spread([len(batches) * batch_size / t for t in seconds])
    model_rate = results["model_samples_per_s"]["median"]
    for workers in (0, 2):
        rate = results[f"loader_{workers}_workers_samples_per_s"]["median"]
        results[f"ratio_loader_{workers}_workers_to_model"] = rate / model_rate
    results["goal"] = "loader >= 4 x model"
    return results


CAMERA_EVENTS, CAMERA_BATCH = 2048, 256


def cherenkov_inference(directory: Path, repeats: int) -> dict[str, Any]:
    """Figure 5 (Cherenkov): energy inference events/s of the default config's CNN vs Hillas + RF.

    Every method starts from the same calibrated images (p.e.) and peak times and ends with
    energies. The CNN paths include its input channels, grid mapping and normalisation, in
    PyTorch (``Regressor.predict``) and in the exported ONNX graph, both 32 events per network
    pass (``CPU_FORWARD_BATCH``); the classical path
    includes tail-cuts cleaning, ctapipe's Hillas, leakage and timing parameters and the
    random forest (fitted on the train store first, not timed). The network is untrained:
    its inference cost does not depend on its weights.
    """
    import onnxruntime

    from sciimg.baselines.hillas_rf import HillasRandomForest
    from sciimg.compress import DEFAULTS as COMPRESS_DEFAULTS
    from sciimg.compress import narrow
    from sciimg.data.image_parameters import Cleaning, image_parameters
    from sciimg.inference.export import export_model
    from sciimg.inference.load import CPU_FORWARD_BATCH
    from sciimg.inference.onnx_export import export_onnx
    from sciimg.io.dl1 import read_events
    from sciimg.io.store import SampleStore
    from sciimg.kinds import kind_of
    from sciimg.tasks.fit import task_options

    store, spec, dl1 = camera_store(directory, 4000)  # the default config's number of events
    torch.manual_seed(spec["seed"])
    kind = kind_of(spec)
    cls = kind.load("task_class")
    network = cls(**task_options(spec, cls, *kind.input_layout(spec)))
    regressor = sciimg.load_regressor(export_model(network, store, spec, "bench", directory / "model"))
    # the student `sciimg compress` distils at the default width, beside the original
    narrowed, _ = narrow(spec["model"]["backbone_options"], COMPRESS_DEFAULTS["width"])
    student_spec = {**spec, "model": {**spec["model"], "backbone_options": narrowed}}
    student = cls(**task_options(student_spec, cls, *kind.input_layout(student_spec)))
    compressed = sciimg.load_regressor(export_model(student, store, student_spec, "bench", directory / "student"))
    session = onnxruntime.InferenceSession(str(export_onnx(directory / "model", directory / "model.onnx")))
    table = read_events(dl1).table[:CAMERA_EVENTS]
    images, peak_times = (np.asarray(table[name], np.float32) for name in ("image", "peak_time"))
    train = SampleStore(store)
    forest = HillasRandomForest().fit(train.meta(), train.read("target"))
    cleaning = Cleaning(**regressor.metadata["cleaning"])

    def onnx() -> None:  # as Regressor.predict: channels per batch, CPU_FORWARD_BATCH events per network pass
        for start in range(0, len(images), CAMERA_BATCH):
            batch = slice(start, start + CAMERA_BATCH)
            pixels = regressor.pixel_channels(images[batch], peak_times[batch])
            for first in range(0, len(pixels), CPU_FORWARD_BATCH):
                session.run(None, {"pixels": pixels[first : first + CPU_FORWARD_BATCH]})

    def hillas_rf() -> None:
        forest.predict(image_parameters(regressor.geometry, images, peak_times, cleaning)[0])

    methods = {
        "cnn_pytorch": lambda: regressor.predict(images, peak_times, batch_size=CAMERA_BATCH),
        "compressed_cnn_pytorch": lambda: compressed.predict(images, peak_times, batch_size=CAMERA_BATCH),
        "cnn_onnxruntime": onnx,
        "hillas_rf": hillas_rf,
    }
    rates = {name: [len(images) / t for t in timed(function, repeats)] for name, function in methods.items()}
    baseline = np.median(rates["hillas_rf"])
    return {
        "n_events": len(images),
        "batch_size": CAMERA_BATCH,
        **{f"{name}_events_per_s": spread(values) for name, values in rates.items()},
        "ratio_pytorch_to_hillas_rf": float(np.median(rates["cnn_pytorch"]) / baseline),
        "ratio_onnxruntime_to_hillas_rf": float(np.median(rates["cnn_onnxruntime"]) / baseline),
        "ratio_compressed_pytorch_to_hillas_rf": float(np.median(rates["compressed_cnn_pytorch"]) / baseline),
        "compressed_widths": narrowed["widths"],
        "goal": "report (events/s vs the Hillas + RF pipeline)",
    }


def write_hdf5(path: Path, arrays: Iterable[np.ndarray]) -> None:
    """The least an ingest does after reading: the same values into an HDF5 file (one dataset per array)."""
    with h5py.File(path, "w") as h5:
        for index, array in enumerate(arrays):
            h5.create_dataset(str(index), data=array)


GRID_128 = {"lat_min": -80, "lat_max": 80, "lon_min": 0, "lon_max": 360, "dlat": 1.25, "dlon": 2.8125}
PEAK_SCRIPT = """
import json, sys
from pathlib import Path
from sciimg.data.ingest_climate import ingest_climate
ingest_climate([Path(sys.argv[1])], Path(sys.argv[2]), json.loads(sys.argv[3]))
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


def netcdf_ingest(directory: Path, repeats: int) -> dict[str, Any]:
    """NetCDF -> store throughput vs xarray reading alone; ingest peak memory at 1x and 10x input."""
    import subprocess
    import sys

    import xarray as xr

    from sciimg.config import validate_config
    from sciimg.data.ingest_climate import ingest_climate
    from sciimg.simulate.climate import simulate_climate_file

    experiment = {"modality": "climate", "task": "inpainting", "data": {"files": {"paths": ["x"]}}, "model": {}}
    spec = validate_config({"experiments": {"x": experiment}})["experiments"]["x"]
    results: dict[str, Any] = {}
    # 1x is already a few 8 MB ingest blocks, so the comparison is not with a file that fits one block
    paths = {years: simulate_climate_file(directory / f"{years}y.nc", years, 0, grid=GRID_128) for years in (40, 400)}
    megabytes = {years: years * 12 * 128 * 128 * 4 / 2**20 for years in paths}  # float32 field in memory
    small = paths[40]
    ingest_s = timed(lambda: ingest_climate([small], directory / "store", spec), repeats)
    read_s = timed(lambda: xr.open_dataset(small).tas.load(), repeats)
    copy_s = timed(lambda: write_hdf5(directory / "copy.h5", [xr.open_dataset(small).tas.values]), repeats)
    results["field_megabytes"] = megabytes[40]
    results["ingest_mb_per_s"] = spread([megabytes[40] / t for t in ingest_s])
    results["xarray_read_mb_per_s"] = spread([megabytes[40] / t for t in read_s])
    results["xarray_read_hdf5_write_mb_per_s"] = spread([megabytes[40] / t for t in copy_s])
    results["ratio_ingest_to_xarray_read"] = (
        results["ingest_mb_per_s"]["median"] / results["xarray_read_mb_per_s"]["median"]
    )
    results["ratio_ingest_to_read_and_write"] = (
        results["ingest_mb_per_s"]["median"] / results["xarray_read_hdf5_write_mb_per_s"]["median"]
    )
    peaks = {}
    for years, path in paths.items():
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, str(path), str(directory / f"peak{years}"), json.dumps(spec)],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[years] = int(out.stdout.split()[-1]) / 1024
    results["peak_mib"] = {f"{megabytes[y]:.0f} MB input": peaks[y] for y in paths}
    results["peak_growth_mib_per_input_mib"] = (peaks[400] - peaks[40]) / (megabytes[400] - megabytes[40])
    results["goal"] = "ratio >= 0.5; peak flat (growth per input MiB ~ 0)"
    return results


def fits_ingest(directory: Path, repeats: int) -> dict[str, Any]:
    """FITS -> tile store throughput vs reading the same images with astropy alone."""
    from astropy.io import fits

    from sciimg.config import validate_config
    from sciimg.data.ingest_sky import ingest_sky

    rng = np.random.default_rng(0)
    folder = directory / "fits"
    folder.mkdir()
    n_images, side = 8, 1024
    for index in range(n_images):
        image = rng.normal(500.0, 20.0, size=(side, side)).astype(np.float32)
        fits.PrimaryHDU(image).writeto(folder / f"image_{index}.fits")
    experiment = {"modality": "sky", "task": "denoising", "data": {"files": {"paths": ["x"]}}, "model": {}}
    spec = validate_config({"experiments": {"x": experiment}})["experiments"]["x"]
    spec["data"]["training_target"] = "noise2void"
    megabytes = n_images * side * side * 4 / 2**20
    files = sorted(folder.iterdir())
    ingest_s = timed(lambda: ingest_sky([folder], directory / "store", spec), repeats)
    read_s = timed(lambda: [np.asarray(fits.getdata(f), np.float32) for f in files], repeats)
    copy_s = timed(
        lambda: write_hdf5(directory / "copy.h5", (fits.getdata(f).astype(np.float32) for f in files)), repeats
    )
    results: dict[str, Any] = {"image_megabytes": megabytes}
    results["ingest_mb_per_s"] = spread([megabytes / t for t in ingest_s])
    results["astropy_read_mb_per_s"] = spread([megabytes / t for t in read_s])
    results["astropy_read_hdf5_write_mb_per_s"] = spread([megabytes / t for t in copy_s])
    results["ratio_ingest_to_astropy_read"] = (
        results["ingest_mb_per_s"]["median"] / results["astropy_read_mb_per_s"]["median"]
    )
    results["ratio_ingest_to_read_and_write"] = (
        results["ingest_mb_per_s"]["median"] / results["astropy_read_hdf5_write_mb_per_s"]["median"]
    )
    results["goal"] = "ratio >= 0.5"
    return results


# a small U-Net: memory and the tiled/whole ratio are what is measured; sides are kept to what a 2-core CPU
# denoises within the bench's time budget (the issue asks for 4k, 8k and 16k on bigger machines)
SKY_BACKBONE = {"encoder": "resnet18", "encoder_options": {"widths": [8, 16], "blocks_per_stage": [1, 1]}}
TILED_SIDES = (1024, 2048, 4096)
TILED_SCRIPT = """
import sys, threading, time
from sciimg.inference.load import load_model

def status(key):
    text = open("/proc/self/status").read()
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith(key)))

peak_anon = [0]
def sample():  # anonymous memory only: pages of the memory-mapped input file are not the process's own
    while True:
        peak_anon[0] = max(peak_anon[0], status("RssAnon"))
        time.sleep(0.02)

threading.Thread(target=sample, daemon=True).start()
load_model(sys.argv[1]).predict_file(sys.argv[2], sys.argv[3])
print(status("VmHWM"), max(peak_anon[0], status("RssAnon")))
"""


def sky_model_dir(directory: Path) -> Path:
    """An untrained sky denoiser saved as a model folder (speed and memory do not depend on the weights)."""
    from sciimg.tasks import DenoisingTask

    torch.manual_seed(0)
    task = DenoisingTask(backbone="unet", backbone_options=SKY_BACKBONE, residual=True)
    card = {
        "task": "denoising",
        "modality": "sky",
        "backbone": "unet",
        "normalisation": "per tile",
        "sky": {"training_target": "clean", "pixel_scale": "standardised"},
    }
    return save_model_dir(directory / "model", task, card)


CLEAN_SIDE = 4096
RUNTIMES = ("torch", "onnxruntime")  # sciimg's two runtimes (sciimg.inference.runtime), both timed in one run
CLEAN_NETS = {  # the networks of configs/sky.yaml's sky_clean
    "backbone_options": {
        "encoder": "resnet18",
        "encoder_options": {"widths": [16, 32, 64], "blocks_per_stage": [1] * 3},
    },
    "inpaint_backbone_options": {
        "encoder": "resnet18",
        "encoder_options": {"widths": [32, 64, 128], "blocks_per_stage": [1] * 3},
    },
}


def save_model_dir(folder: Path, task: torch.nn.Module, card: dict[str, Any]) -> Path:
    """A model folder (weights, card, empty preprocessing) from an untrained task."""
    from sciimg.inference.export import save_model
    from sciimg.predictors import predictor_options

    return save_model(folder, task.predictor, predictor_options(type(task.predictor), task.hparams), card)


def cleaning(directory: Path) -> dict[str, Any]:
    """Figure 5 (cosmic rays): cleaning a 4096^2 image, sciimg's networks vs astroscrappy, wall seconds."""
    import astroscrappy
    from astropy.io import fits

    from sciimg.inference.load import load_model
    from sciimg.simulate.sky import SkyOptions, simulate_image
    from sciimg.tasks import CleaningTask

    torch.manual_seed(0)
    card = {
        "task": "cleaning",
        "modality": "sky",
        "backbone": "unet",
        "normalisation": "per tile",
        "sky": {"pixel_scale": "anscombe", "mask_dilation": 1},
        "artefact_threshold": {"threshold": 0.5},  # untrained: about half the pixels flagged, inpainter runs everywhere
    }
    folder = save_model_dir(directory / "cleaner", CleaningTask(**CLEAN_NETS), card)
    options = SkyOptions(shape=(CLEAN_SIDE, CLEAN_SIDE), stars=(3000, 3000), galaxies=(500, 500))
    sim = simulate_image(
        SkyOptions(**{**options.__dict__, "cosmic_rays_per_mpix": (1000, 1000)}), np.random.default_rng(0)
    )
    source = directory / "field.fits"
    fits.PrimaryHDU(sim.image_adu, header=sim.header).writeto(source)
    small = directory / "small.fits"
    fits.PrimaryHDU(sim.image_adu[:512, :512], header=sim.header).writeto(small)
    seconds = {}
    for runtime in RUNTIMES:
        model = load_model(folder, runtime=runtime)
        model.predict_file(small, directory / "warm.fits")  # warm-up (and the ONNX trace)
        start = time.perf_counter()
        model.predict_file(source, directory / "cleaned.fits")
        seconds[runtime] = time.perf_counter() - start
    start = time.perf_counter()
    astroscrappy.detect_cosmics(
        sim.image_adu, gain=sim.header["GAIN"], readnoise=sim.header["RDNOISE"], satlevel=sim.header["SATURATE"]
    )
    lacosmic_s = time.perf_counter() - start
    return {
        "image_side": CLEAN_SIDE,
        **{f"sciimg_clean_{runtime}_s": s for runtime, s in seconds.items()},
        "astroscrappy_s": lacosmic_s,
        **{f"ratio_astroscrappy_to_sciimg_{runtime}_speed": lacosmic_s / s for runtime, s in seconds.items()},
        "goal": "faster than astroscrappy (ratio >= 1) at equal or better TPR",
    }


def noise_fits(path: Path, side: int) -> Path:
    """A ``side`` x ``side`` float32 FITS image of sky noise, written in row blocks."""
    from astropy.io import fits

    header = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2), ("NAXIS1", side), ("NAXIS2", side)])
    stream = fits.StreamingHDU(str(path), header)
    rng = np.random.default_rng(0)
    for _ in range(0, side, 512):
        stream.write(rng.normal(500.0, 20.0, size=(512, side)).astype(">f4"))
    stream.close()
    return path


def tiled_inference(directory: Path, repeats: int) -> dict[str, Any]:
    """Figure 3: sliding-window vs whole-image throughput; peak memory of file-to-file denoising vs image size."""
    import subprocess
    import sys

    from sciimg.inference.load import load_model

    model = load_model(sky_model_dir(directory))
    side = 1024
    image = np.random.default_rng(1).normal(size=(side, side)).astype(np.float32)
    usable = np.ones_like(image, bool)
    stacked = torch.from_numpy(np.stack([image, usable.astype(np.float32)])[None])
    tiled_s = timed(lambda: model.predict_normalised(image, usable), repeats)
    with torch.no_grad():
        whole_s = timed(lambda: model._predict_windows(stacked), repeats)
    megapixels = side * side / 1e6
    results: dict[str, Any] = {
        "image_side": side,
        "tiled_megapixels_per_s": spread([megapixels / t for t in tiled_s]),
        "whole_megapixels_per_s": spread([megapixels / t for t in whole_s]),
    }
    results["ratio_tiled_to_whole"] = (
        results["tiled_megapixels_per_s"]["median"] / results["whole_megapixels_per_s"]["median"]
    )
    peaks, anon = {}, {}
    for size in TILED_SIDES:
        source = noise_fits(directory / f"noise_{size}.fits", size)
        output = directory / f"denoised_{size}.fits"
        script = [sys.executable, "-c", TILED_SCRIPT, str(directory / "model"), str(source), str(output)]
        out = subprocess.run(script, capture_output=True, text=True, check=True)
        peaks[size], anon[size] = (int(value) / 1024 for value in out.stdout.split()[-2:])
        source.unlink()
        output.unlink()
    results["peak_mib"] = {f"{size}x{size}": peak for size, peak in peaks.items()}
    results["peak_anonymous_mib"] = {f"{size}x{size}": peak for size, peak in anon.items()}
    small, large = TILED_SIDES[0], TILED_SIDES[-1]
    results["peak_growth_mib_per_megapixel"] = (peaks[large] - peaks[small]) / ((large**2 - small**2) / 1e6)
    results["goal"] = "ratio >= 0.9; peak flat"
    return results


def exponent(sizes: list[float], times: list[float]) -> float:
    """Slope of log(time) against log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def scaling(repeats: int) -> dict[str, Any]:
    """Figure 6: epoch time vs dataset size; inference time vs image and volume side."""
    results: dict[str, Any] = {}
    sizes, epoch_times = [256, 512, 1024], []
    for n in sizes:
        loader = DataLoader(InMemory(n, (3, 64, 64)), batch_size=32, shuffle=True)
        model = task(2, 3)
        epoch_times.append(float(np.median(timed(lambda m=model, dl=loader: lightning_epoch(m, dl), repeats))))
    results["epoch_time_vs_dataset_size"] = {
        "sizes": sizes,
        "seconds": epoch_times,
        "exponent": exponent(sizes, epoch_times),
        "ideal": 1.0,
    }
    for dims, sides, ideal in ((2, [64, 128, 256, 512], 2.0), (3, [16, 24, 32, 48], 3.0)):
        model = task(dims, 1).eval()
        seconds = []
        for side in sides:
            x = torch.randn(4, 1, *([side] * dims))
            with torch.no_grad():
                seconds.append(float(np.median(timed(lambda m=model, v=x: m(v), repeats))))
        results[f"inference_time_vs_side_{dims}d"] = {
            "sides": sides,
            "seconds": seconds,
            "exponent": exponent(sides, seconds),
            "ideal": ideal,
        }
    return results


DETECT_SIDE = 2048
DETECT_NET = {"encoder": "resnet18", "encoder_options": {"widths": [16, 32, 64], "blocks_per_stage": [1] * 3}}


def detection(directory: Path, repeats: int) -> dict[str, Any]:
    """Figure 5 (sources): a 2048^2 image to a catalog, sciimg's detector (sky_detect's network) vs sep."""
    from astropy.io import fits

    from sciimg.baselines.sky_denoise import Tile
    from sciimg.baselines.sky_detect import sep_sources
    from sciimg.inference.load import load_model
    from sciimg.simulate.sky import SkyOptions, simulate_image
    from sciimg.tasks import DetectionTask

    torch.manual_seed(0)
    card = {
        "task": "detection",
        "modality": "sky",
        "backbone": "unet",
        "normalisation": "per tile",
        "sky": {"pixel_scale": "standardised, asinh-stretched"},
        "source_threshold": {"threshold": 0.5},
    }
    folder = save_model_dir(directory / "detector", DetectionTask(backbone_options=DETECT_NET), card)
    sim = simulate_image(
        SkyOptions(shape=(DETECT_SIDE,) * 2, stars=(4000, 4000), galaxies=(800, 800)), np.random.default_rng(0)
    )
    source = directory / "field.fits"
    fits.PrimaryHDU(sim.image_adu, header=sim.header).writeto(source)
    tile = Tile(sim.image_adu.astype(np.float64), np.ones(sim.image_adu.shape, bool), 0.0, 1.0)
    seconds = {}
    for runtime in RUNTIMES:
        model = load_model(folder, runtime=runtime)
        seconds[runtime] = timed(lambda: model.predict_file(source, directory / "sources.fits"), repeats)  # noqa: B023
    sep_s = timed(lambda: sep_sources(tile), repeats)
    return {
        "image_side": DETECT_SIDE,
        **{f"sciimg_detect_{runtime}_s": spread(s) for runtime, s in seconds.items()},
        "sep_s": spread(sep_s),
        **{
            f"ratio_sep_to_sciimg_{runtime}_speed": float(np.median(sep_s) / np.median(s))
            for runtime, s in seconds.items()
        },
        "goal": "report the ratio (sep is fast C)",
    }


VOLUME_SIDES = (64, 128, 256)
VOLUME_EVENTS = 4
VOLUME_NET = {"encoder": "resnet18", "encoder_options": {"widths": [16, 32, 64], "blocks_per_stage": [1] * 3}}
VOLUME_SCRIPT = """
import sys, threading, time
from sciimg.inference.predict import predict

def status(key):
    text = open("/proc/self/status").read()
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith(key)))

peak_anon = [0]
def sample():
    while True:
        peak_anon[0] = max(peak_anon[0], status("RssAnon"))
        time.sleep(0.02)

threading.Thread(target=sample, daemon=True).start()
started = time.perf_counter()
predict(sys.argv[1], [sys.argv[2]], sys.argv[3], runtime=sys.argv[4])
print(time.perf_counter() - started, status("VmHWM"), max(peak_anon[0], status("RssAnon")))
"""


def volume_inference(directory: Path) -> dict[str, Any]:
    """Detector events to voxel classes (detector3d_segment's network) at 64^3, 128^3, 256^3: time and peak memory.

    The same simulated physics fills bigger cubes with longer tracks and showers, so the
    occupied voxels grow too; each run is one process on ``VOLUME_EVENTS`` events.
    """
    import subprocess
    import sys

    from sciimg.io.volumes import read_volume_events
    from sciimg.simulate.detector3d import LABELS, simulate_detector3d_file
    from sciimg.tasks import SegmentationTask

    torch.manual_seed(0)
    task = SegmentationTask(backbone_options=VOLUME_NET)
    results: dict[str, Any] = {"events_per_run": VOLUME_EVENTS}
    for side in VOLUME_SIDES:
        grid = {"shape": [side] * 3, "pitch_mm": 3.0, "origin_mm": [0.0] * 3}
        card = {
            "task": "segmentation",
            "modality": "detector3d",
            "backbone": "unet",
            "normalisation": {"kind": "log1p", "scale": 5.0},
            "units": {"image": "ke-"},
            "volume": {"grid": grid, "classes": list(LABELS), "patch_size": 32},
        }
        model = save_model_dir(directory / f"model_{side}", task, card)
        events = simulate_detector3d_file(directory / f"events_{side}.h5", VOLUME_EVENTS, 5, grid=side)
        voxels = [len(e.values) for e in read_volume_events(events)]
        runs = {}
        for runtime in RUNTIMES:
            script = [sys.executable, "-c", VOLUME_SCRIPT, str(model), str(events), str(directory / "out.h5"), runtime]
            out = subprocess.run(script, capture_output=True, text=True, check=True).stdout
            runs[runtime] = [float(v) for v in out.split()[-3:]]
        seconds, peak, anon = runs["torch"]  # the default runtime of voxel models
        results[f"{side}^3"] = {
            "occupied_voxels_median": float(np.median(voxels)),
            "seconds_per_event": seconds / VOLUME_EVENTS,
            "seconds_per_event_onnxruntime": runs["onnxruntime"][0] / VOLUME_EVENTS,
            "speedup_onnxruntime_over_torch": seconds / runs["onnxruntime"][0],
            "peak_mib": peak / 1024,
            "peak_anonymous_mib": anon / 1024,
            "dense_probabilities_mib": len(LABELS) * side**3 * 4 / 2**20,
        }
    results["goal"] = "report peak memory and time per event at 256^3 (issue 5)"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="results/bench/bench.json")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "sciimg_version": sciimg.__version__,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "repeats": args.repeats,
    }
    start = time.perf_counter()
    report["framework_overhead"] = framework_overhead(args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["input_pipeline"] = input_pipeline(Path(tmp), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["tiled_inference"] = tiled_inference(Path(tmp), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["netcdf_ingest"] = netcdf_ingest(Path(tmp), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["fits_ingest"] = fits_ingest(Path(tmp), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["cleaning"] = cleaning(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        report["detection"] = detection(Path(tmp), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["cherenkov_inference"] = cherenkov_inference(Path(tmp), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        report["volume_inference"] = volume_inference(Path(tmp))
    report["scaling"] = scaling(args.repeats)
    report["wall_seconds"] = time.perf_counter() - start
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"written {output}")


def print_table(report: dict[str, Any]) -> None:
    print(f"{'figure':52s} {'value':>10s}  goal")
    for name, fig in report["framework_overhead"].items():
        print(f"{'framework overhead ' + name + ' (sciimg / bare)':52s} {fig['ratio']:10.3f}  >= 0.95")
    pipe = report["input_pipeline"]
    for workers in (0, 2):
        ratio = pipe[f"ratio_loader_{workers}_workers_to_model"]
        print(f"{f'input pipeline, {workers} workers (loader / model)':52s} {ratio:10.2f}  >= 4")
    tiled = report["tiled_inference"]
    print(f"{'tiled inference (sliding window / whole image)':52s} {tiled['ratio_tiled_to_whole']:10.2f}  >= 0.9")
    for size, peak in tiled["peak_mib"].items():
        print(f"{f'denoising a {size} FITS image, peak MiB':52s} {peak:10.0f}  flat")
    for size, peak in tiled["peak_anonymous_mib"].items():
        print(f"{f'  of it the process own (anonymous) MiB, {size}':52s} {peak:10.0f}  flat")
    ingest = report["netcdf_ingest"]
    print(
        f"{'NetCDF ingest (store MB/s / xarray read MB/s)':52s} {ingest['ratio_ingest_to_xarray_read']:10.2f}  >= 0.5"
    )
    print(f"{'  same / (xarray read + HDF5 write MB/s)':52s} {ingest['ratio_ingest_to_read_and_write']:10.2f}  report")
    fits = report["fits_ingest"]
    print(f"{'FITS ingest (store MB/s / astropy read MB/s)':52s} {fits['ratio_ingest_to_astropy_read']:10.2f}  >= 0.5")
    print(f"{'  same / (astropy read + HDF5 write MB/s)':52s} {fits['ratio_ingest_to_read_and_write']:10.2f}  report")
    growth = ingest["peak_growth_mib_per_input_mib"]
    print(f"{'NetCDF ingest peak growth (MiB per input MiB, 10x)':52s} {growth:10.3f}  ~ 0")
    clean, detect = report["cleaning"], report["detection"]
    for runtime in RUNTIMES:
        label = f"cleaning {clean['image_side']}^2 (astroscrappy s / sciimg {runtime} s)"
        print(f"{label:52s} {clean[f'ratio_astroscrappy_to_sciimg_{runtime}_speed']:10.2f}  >= 1")
    for runtime in RUNTIMES:
        label = f"source detection {detect['image_side']}^2 (sep s / sciimg {runtime} s)"
        print(f"{label:52s} {detect[f'ratio_sep_to_sciimg_{runtime}_speed']:10.3f}  >= 0.3")
    camera = report["cherenkov_inference"]
    for engine in ("pytorch", "onnxruntime", "compressed_pytorch"):
        label = f"Cherenkov energy, {engine} CNN / Hillas + RF events/s"
        print(f"{label:52s} {camera[f'ratio_{engine}_to_hillas_rf']:10.2f}  >= 3 (compressed)")
    for side, fig in report["volume_inference"].items():
        if isinstance(fig, dict):
            label = f"detector event {side} to voxel classes, s / peak MiB"
            print(f"{label:52s} {fig['seconds_per_event']:10.2f} / {fig['peak_mib']:.0f}  report")
            label = "  same, PyTorch s / ONNX Runtime s"
            print(f"{label:52s} {fig['speedup_onnxruntime_over_torch']:10.2f}  report")
    for name, fig in report["scaling"].items():
        print(f"{name + ' exponent':52s} {fig['exponent']:10.2f}  ~ {fig['ideal']:.0f}")
    print(f"wall time {report['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
