"""The ``sciimg`` command: one subcommand per pipeline stage, plus ``nets``.

Errors in inputs or config print one line (``sciimg: error: ...``) and exit with status 2;
no traceback, no partial output. Each handler imports its stage when it runs: most stages
load PyTorch, Lightning or ctapipe (seconds), which ``sciimg --help`` and the stages that
do not need them should not pay.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from sciimg.errors import SciimgError

Handler = Callable[[argparse.Namespace], None]
PREEMPTED = 128 + 15  # exit status of a run stopped by SIGTERM, as a shell reports it


def _simulate(args: argparse.Namespace) -> None:
    from sciimg.config import load_experiment
    from sciimg.kinds import kind_of
    from sciimg.provenance import provenance

    spec = load_experiment(args.spec, check_models=False)
    sim = dict(spec["data"].get("simulate") or {})
    if not sim:
        raise SciimgError("the experiment has no data.simulate section; nothing to simulate")
    seed = sim.pop("seed")
    simulator = kind_of(spec).load("simulator")
    simulator(args.output, seed=seed, provenance=provenance(spec, seed=seed), **sim)


def _ingest(args: argparse.Namespace) -> None:
    from sciimg.config import load_experiment
    from sciimg.kinds import ingest

    spec = load_experiment(args.spec, check_models=False)
    ingest(args.input, args.output_dir, spec)


def _fit(args: argparse.Namespace) -> None:
    from lightning.pytorch.utilities.exceptions import SIGTERMException  # Lightning: seconds, fit only

    from sciimg.config import load_experiment
    from sciimg.inference.export import export_trained
    from sciimg.tasks.checkpoints import TrainingStoppedError
    from sciimg.tasks.fit import fit

    spec = load_experiment(args.spec)
    try:
        trained = fit(spec, args.store_dir, args.checkpoint_dir)
    except (TrainingStoppedError, SIGTERMException) as stopped:
        print(f"sciimg: fit {stopped or 'stopped by SIGTERM'}; run it again to resume", file=sys.stderr)
        sys.exit(PREEMPTED)
    if trained is None:  # global rank 0 exports; other data-parallel processes only train
        return
    export_trained(trained[0], args.store_dir, spec, args.experiment, args.output)


def _compress(args: argparse.Namespace) -> None:
    from sciimg.compress import compress
    from sciimg.config import load_experiment

    spec = load_experiment(args.spec)
    if "compress" not in spec:
        raise SciimgError(f"{args.experiment}: the experiment has no compress section (see the config schema)")
    report = compress(spec, args.experiment, args.model, args.store_dir, args.checkpoint_dir, args.output)
    metric = report["headline"]["metric"]
    before, after = report["original"]["metrics"][metric], report["compressed"]["metrics"][metric]
    verdict = "published" if report["published"] else "NOT published: it loses more than max_loss"
    print(
        f"{args.experiment}: {metric} on validation {before:.4g} -> {after:.4g} "
        f"({100 * report['headline_loss']:+.2f} % loss), {report['speedup']:.2f}x faster; {verdict}"
    )


def _predict(args: argparse.Namespace) -> None:
    from sciimg.inference.predict import predict

    given = {"gain": args.gain, "read_noise": args.read_noise}
    options = {name: value for name, value in given.items() if value is not None}
    predict(args.model, args.input, args.output, runtime=args.runtime, **options)


def _export(args: argparse.Namespace) -> None:
    from sciimg.inference.onnx_export import export_onnx

    export_onnx(args.model, args.output)


def _named(items: Sequence[str], flag: str) -> dict[str, str]:
    """``NAME=VALUE`` command-line items as a dict; one clear error for an item without a name."""
    for item in items:
        if "=" not in item or not item.split("=", 1)[0]:
            raise SciimgError(f"{flag} takes NAME=PATH items, got {item!r}")
    return dict(item.split("=", 1) for item in items)


def _baseline(args: argparse.Namespace) -> None:
    from sciimg.baselines.run import run_baseline

    run_baseline(args.name, args.train, args.test, args.output, args.val)


def _evaluate(args: argparse.Namespace) -> None:
    import inspect

    from sciimg.io.store import SampleStore
    from sciimg.kinds import kind_of

    predictions = _named(args.predictions, "--predictions")
    kind = kind_of(SampleStore(args.test).attrs)
    evaluate = kind.load("evaluate")
    accepted = inspect.signature(evaluate).parameters
    options = dict(kind.evaluate_options)
    given = {
        "applied": _named(args.applied, "--applied") if args.applied else None,
        "injection": args.injection,
        "training_target": args.training_target,
    }
    for name, value in given.items():
        if value is not None:
            if name not in accepted:
                flag = "--" + name.replace("_", "-")
                raise SciimgError(f"{flag} does not apply to {kind.modality} {kind.task} experiments ({args.test})")
            options[name] = value
    evaluate(args.experiment, predictions, args.test, args.output_dir, **options)


def _inject(args: argparse.Namespace) -> None:
    from sciimg.evaluate.injection import injection_recovery

    baselines = _named(args.baseline, "--baseline")
    injection_recovery(args.model, args.input, baselines, args.output_dir, args.n_stars, args.seed)


def _report(args: argparse.Namespace) -> None:
    from sciimg.evaluate.report import write_report
    from sciimg.kinds import kind_of

    path = write_report(args.metrics, args.output, lambda metrics: kind_of(metrics).load("report_section"))
    print(f"report written to {path.resolve()}")


def _samples(args: argparse.Namespace) -> None:
    from sciimg import samples

    for name in samples.available():
        sample = samples.SAMPLES[name]
        file = samples.SAMPLES_DIR / sample.file
        size = f"{file.stat().st_size / 1e6:5.1f} MB" if file.is_file() else "missing"
        print(f"{name:22s} {size:>9s}  {sample.description}\n{'':34s}{file}")


def _nets(args: argparse.Namespace) -> None:
    from sciimg.nets.summary import summary_table

    print(summary_table(args.spatial_dims, args.size, args.in_channels))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="sciimg", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    spec_help = "experiment spec: a YAML file or a JSON object (the workflow passes JSON)"

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    p = add("simulate", _simulate, "simulate data with truth, written in the native format")
    p.add_argument("--spec", required=True, help=spec_help)
    p.add_argument("--output", required=True, help="output file (sky images: a folder of FITS files)")

    p = add("ingest", _ingest, "validate native files and write train/val/test sample stores")
    p.add_argument("--spec", required=True, help=spec_help)
    p.add_argument("--input", nargs="+", required=True, help="input files or globs")
    p.add_argument("--output-dir", required=True, help="folder for train.h5, val.h5, test.h5")

    p = add("fit", _fit, "train the experiment's model and export it as a model folder")
    p.add_argument("--spec", required=True, help=spec_help)
    p.add_argument("--experiment", required=True, help="experiment name (recorded in the model card)")
    p.add_argument("--store-dir", required=True, help="folder with train.h5 and val.h5")
    p.add_argument("--checkpoint-dir", required=True, help="folder for best.ckpt and last.ckpt")
    p.add_argument("--output", required=True, help="model folder to write")

    p = add("compress", _compress, "distil a narrower model; publish it if it keeps the accuracy on validation")
    p.add_argument("--spec", required=True, help=spec_help + ", with a compress section")
    p.add_argument("--experiment", required=True, help="experiment name (recorded in the model card)")
    p.add_argument("--model", required=True, help="the trained model folder (kept as it is)")
    p.add_argument("--store-dir", required=True, help="folder with train.h5 and val.h5")
    p.add_argument("--checkpoint-dir", required=True, help="folder for the student's checkpoints")
    p.add_argument("--output", required=True, help="folder to write: compression.json, and model/ if published")

    p = add("predict", _predict, "run a trained model on files (regressors: ECSV or DL2; fields: NetCDF; sky: FITS)")
    p.add_argument("--model", required=True, help="trained model folder")
    p.add_argument("--input", nargs="+", required=True, help="sample stores, DL1, sim_telarray, NetCDF or FITS files")
    p.add_argument("--output", required=True, help="output path")
    p.add_argument("--gain", type=float, help="sky images: the detector's gain in electrons/ADU (else the header's)")
    p.add_argument("--read-noise", type=float, help="sky images: the detector's read noise in electrons (with --gain)")
    p.add_argument(
        "--runtime",
        choices=("auto", "onnxruntime", "torch"),  # sciimg.inference.runtime.RUNTIMES (torch-free here)
        default="auto",
        help="where sliding-window passes run: auto (ONNX Runtime on the CPU), onnxruntime or torch",
    )

    p = add("export", _export, "export a trained model to ONNX (physical inputs in, physical outputs out)")
    p.add_argument("--model", required=True, help="trained model folder")
    p.add_argument("--output", required=True, help="output .onnx file")

    p = add("baseline", _baseline, "run a classical method on the test split")
    p.add_argument("--name", required=True, help="baseline name")
    p.add_argument("--train", required=True, help="train store (the baseline is fitted on it)")
    p.add_argument("--val", default=None, help="validation store (baselines with settings choose them on it)")
    p.add_argument("--test", required=True, help="test store")
    p.add_argument("--output", required=True, help="output file (the kind's format: table, NetCDF, FITS, HDF5)")

    p = add("evaluate", _evaluate, "metrics.json and plots: every method on the same test events")
    p.add_argument("--experiment", required=True, help="experiment name")
    p.add_argument("--test", required=True, help="test store")
    p.add_argument("--predictions", nargs="+", required=True, help="NAME=OUTPUT pairs (tables or NetCDF), model first")
    p.add_argument("--applied", nargs="*", default=[], help="INPUT=OUTPUT pairs of real files the model filled")
    p.add_argument("--output-dir", required=True, help="folder for metrics.json and figures")
    p.add_argument("--injection", default=None, help="injection-recovery JSON on real images (sky detection)")
    p.add_argument(
        "--training-target",
        default=None,
        choices=("clean", "noise2noise", "noise2void"),
        help="how a sky denoiser was trained (default: clean)",
    )

    p = add("inject", _inject, "injection-recovery: add stars to real images, measure what detectors find")
    p.add_argument("--model", required=True, help="trained detection model folder")
    p.add_argument("--input", nargs="+", required=True, help="real FITS images")
    p.add_argument("--baseline", nargs="*", default=[], help="NAME=CATALOG of a classical detector (its cut is used)")
    p.add_argument("--n-stars", type=int, default=300, help="stars injected per image")
    p.add_argument("--seed", type=int, default=0, help="seed of the positions and fluxes")
    p.add_argument("--output-dir", required=True, help="folder for injection.json and the cutouts")

    p = add("report", _report, "write the HTML report from metrics.json files")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json files")
    p.add_argument("--output", required=True, help="output HTML file")

    add("samples", _samples, "list the real sample files that ship with sciimg (sciimg.samples.path(name))")

    p = add("nets", _nets, "print parameters, receptive field, FLOPs and stride of every backbone")
    p.add_argument("--spatial-dims", type=int, default=2, choices=(2, 3))
    p.add_argument("--size", type=int, default=64, help="input size per spatial axis")
    p.add_argument("--in-channels", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sciimg`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sciimg").setLevel(logging.INFO)
    try:
        args.handler(args)
    except (SciimgError, FileNotFoundError) as error:
        if args.verbose:
            raise
        print(f"sciimg: error: {' '.join(str(error).split())}", file=sys.stderr)  # one line, whatever a library said
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
