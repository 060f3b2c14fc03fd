"""Check a SLURM run of the workflow against a local run of the same config (``make test-cluster``).

Usage: python check_runs.py LOCAL_DIR SLURM_DIR CONFIG
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml
from astropy.table import Table

SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


def slurm_jobs(run: Path) -> dict[str, list[str]]:
    """SLURM job ids per rule, from the snakemake log of the run."""
    log = max((run / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs: dict[str, list[str]] = {}
    for job_id, path in SUBMITTED.findall(log.read_text()):
        rule = next(part[len("rule_") :] for part in Path(path).parts if part.startswith("rule_"))
        assert Path(path).exists() and Path(path).stem == job_id, f"no SLURM log {path} for job {job_id}"
        jobs.setdefault(rule, []).append(job_id)
    return jobs


def assert_tables_equal(a: Path, b: Path, rtol: float) -> None:
    left, right = Table.read(a), Table.read(b)
    assert left.colnames == right.colnames and len(left) == len(right), f"{a.name}: columns or rows differ"
    for name in left.colnames:
        x, y = np.asarray(left[name]), np.asarray(right[name])
        if x.dtype.kind in "fc":
            np.testing.assert_allclose(y, x, rtol=rtol, atol=1e-7, err_msg=f"{a}: column {name}")
        else:
            assert np.array_equal(x, y), f"{a}: column {name} differs"


def numbers(value, prefix=""):
    """Flatten the numbers of a metrics.json value to {path: number}."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{prefix}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{prefix}[{i}]").items()}
    return {prefix: value} if isinstance(value, (int, float)) and not isinstance(value, bool) else {}


def main(local: Path, slurm: Path, config: Path) -> None:
    experiments = yaml.safe_load(config.read_text())["experiments"]
    jobs = slurm_jobs(slurm)
    # all rules but the localrules; evaluate is one rule per kind
    expected = {"simulate", "ingest", "fit", "export", "predict", "baseline", "evaluate_cherenkov_regression"}
    assert set(jobs) == expected, f"rules run as SLURM jobs: {sorted(jobs)}, expected {sorted(expected)}"
    print("SLURM jobs per rule:", {rule: ids for rule, ids in sorted(jobs.items())})

    for name in experiments:
        fit_log = (slurm / "results" / name / "logs" / "fit.log").read_text()
        for rank in (0, 1):
            assert f"rank {rank} of 2 processes (SLURMEnvironment)" in fit_log, f"rank {rank} not an srun task"
        resumed = re.search(r"resuming from \S+last\.ckpt", fit_log)
        assert resumed, "the requeued fit did not resume from last.ckpt"
        print("requeued fit:", resumed.group(0))
        assert (
            "rank 0 of 2 processes (LightningEnvironment)"
            in (local / "results" / name / "logs" / "fit.log").read_text()
        )
        results = Path("results") / name
        # gloo's all-reduce gives the same sums whichever launcher started the processes
        assert_tables_equal(
            local / results / "predictions/model.ecsv", slurm / results / "predictions/model.ecsv", 1e-5
        )
        for table in (local / results / "baselines").glob("*.ecsv"):
            assert_tables_equal(table, slurm / results / "baselines" / table.name, 0.0)
        a, b = (numbers(json.loads((run / results / "metrics.json").read_text())) for run in (local, slurm))
        assert a.keys() == b.keys()
        np.testing.assert_allclose([b[k] for k in a], [a[k] for k in a], rtol=1e-4, atol=1e-6)
    assert (slurm / "results" / "report.html").exists()
    print("SLURM outputs equal the local run's")


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:4]))
