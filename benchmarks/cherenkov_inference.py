"""Cherenkov energy inference on CPU: events/s of the CNN (PyTorch, ONNX Runtime) vs Hillas + RF.

Usage (after ``make run``, which trains the default model)::

    .venv/bin/python benchmarks/cherenkov_inference.py \\
        results/cherenkov_energy/model data/raw/cherenkov_energy/simulated.dl1.h5 data/interim/cherenkov_energy/train.h5

All methods start from the same calibrated camera images (p.e.) and peak times, batch 256,
and end with energies: the CNN paths include the model's input channels (cleaning, when it
uses peak time or the cleaning mask), grid mapping and normalisation; the classical path
includes tail-cuts cleaning, Hillas/leakage/timing parameters (ctapipe) and the random
forest (fitted on the train store first, not timed). Each figure is the median of
``--repeats`` runs; the spread is the min-max range. Writes ``results/bench/cherenkov_inference.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import sciimg
from sciimg.baselines.hillas_rf import HillasRandomForest
from sciimg.data.image_parameters import Cleaning, image_parameters
from sciimg.io.dl1 import read_events
from sciimg.io.store import SampleStore


def _rate(function, n_events: int, repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    rates = n_events / np.array(times)
    return {"events_per_s": float(np.median(rates)), "min": float(rates.min()), "max": float(rates.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("events", help="DL1 or sim_telarray file")
    parser.add_argument("train_store", help="train store the random forest is fitted on")
    parser.add_argument("--n-events", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="results/bench/cherenkov_inference.json")
    args = parser.parse_args()

    regressor = sciimg.load_regressor(args.model)
    table = read_events(args.events).table[: args.n_events]
    images = np.asarray(table["image"], np.float32)
    peak_times = np.asarray(table["peak_time"], np.float32)
    n = len(images)
    train = SampleStore(args.train_store)
    forest = HillasRandomForest().fit(train.meta(), train.read("target"))
    cleaning = Cleaning(**regressor.metadata["cleaning"])

    def classical() -> None:
        parameters, _ = image_parameters(regressor.geometry, images, peak_times, cleaning)
        forest.predict(parameters)

    results = {
        "n_events": n,
        "torch_threads": torch.get_num_threads(),
        "cnn_pytorch": _rate(lambda: regressor.predict(images, peak_times, batch_size=256), n, args.repeats),
        "hillas_rf": _rate(classical, n, args.repeats),
    }
    onnx_path = Path(args.model).with_suffix(".onnx")
    if onnx_path.is_file():
        import onnxruntime

        session = onnxruntime.InferenceSession(str(onnx_path))

        def onnx() -> None:
            for start in range(0, n, 256):
                stop = start + 256
                pixels = regressor.pixel_channels(images[start:stop], peak_times[start:stop])
                session.run(None, {"pixels": pixels})

        results["cnn_onnxruntime"] = _rate(onnx, n, args.repeats)
    baseline = results["hillas_rf"]["events_per_s"]
    results["ratio_to_hillas_rf"] = {
        name: results[name]["events_per_s"] / baseline for name in ("cnn_pytorch", "cnn_onnxruntime") if name in results
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(f"{n} events, batch 256, {results['torch_threads']} torch threads (median of {args.repeats}; min-max)")
    for name in ("cnn_pytorch", "cnn_onnxruntime", "hillas_rf"):
        if name in results:
            r = results[name]
            print(f"  {name:16s} {r['events_per_s']:9.0f} events/s  ({r['min']:.0f}-{r['max']:.0f})")
    for name, ratio in results["ratio_to_hillas_rf"].items():
        print(f"  {name} / hillas_rf = {ratio:.2f}")


if __name__ == "__main__":
    main()
