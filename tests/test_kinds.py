"""Experiment kinds: every declared piece exists, and nothing outside sciimg/kinds branches on a kind."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sciimg.errors import ConfigError
from sciimg.kinds import Kind, all_kinds, get_kind, kind_of

ROOT = Path(__file__).resolve().parents[1]
LOADED = ("simulator", "ingester", "task_class", "predictor", "dataset", "model_class", "predict", "baseline_runner")
SOURCES = [
    *(p for p in (ROOT / "sciimg").rglob("*.py") if "kinds" not in p.relative_to(ROOT / "sciimg").parts),
    ROOT / "Snakefile",
    *(ROOT / "workflow" / "rules").glob("*.smk"),
]


def test_every_kind_names_pieces_that_exist_and_figures_with_captions():
    kinds = all_kinds()
    assert len(kinds) == len({k.name for k in kinds}) >= 10
    for kind in kinds:
        for attribute in LOADED + ("evaluate", "report_section") + (("calibrate",) if kind.calibrate else ()):
            assert callable(kind.load(attribute)), f"{kind.name}.{attribute}"
        assert kind.load("task_class").predictor_class is kind.load("predictor"), kind.name  # what folders rebuild
        for figure in kind.figures:
            assert (ROOT / "workflow" / "report" / f"{figure.removesuffix('.png')}.rst").is_file(), figure
        assert kind.output_suffix in ("ecsv", "nc", "fits", "h5") and kind.baselines
        runner = inspect.signature(kind.load("baseline_runner"))
        assert list(runner.parameters)[:4] == ["name", "train", "test", "output"], kind.name


def test_the_schema_offers_exactly_the_registered_modalities_tasks_and_baselines():
    import yaml

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    experiment = schema["definitions"]["experiment"]["properties"]
    kinds = all_kinds()
    assert set(experiment["modality"]["enum"]) == {k.modality for k in kinds}
    assert set(experiment["task"]["enum"]) == {k.task for k in kinds}
    assert set(experiment["baselines"]["items"]["enum"]) == {b for k in kinds for b in k.baselines}


def test_an_unknown_pair_is_one_error_naming_what_is_supported():
    assert get_kind("sky", "detection").load("task_class").__name__ == "DetectionTask"
    assert kind_of({"modality": "detector3d", "task": "denoising"}).needs_classes
    with pytest.raises(ConfigError, match=r"task must be one of \['cleaning', 'denoising', 'detection'\] for sky"):
        get_kind("sky", "regression")
    with pytest.raises(ConfigError, match=r"modality must be one of \['cherenkov', 'climate', 'detector3d', 'sky'\]"):
        kind_of({"modality": "radio", "task": "regression"})


def test_nothing_outside_the_kinds_package_branches_on_a_modality_or_task_name():
    branch = re.compile(r"\b(modality|task)\b[\"'\])]*\s*(==|!=|\bin\b)")
    table = re.compile(r"[\"'](cherenkov|climate|sky|detector3d)( [a-z0-9]+)?[\"']\s*:")
    found = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if branch.search(line) or table.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_kinds_are_plain_declarations_that_import_nothing_heavy():
    import subprocess
    import sys

    heavy = "{'torch', 'h5py', 'ctapipe', 'astropy'}"
    script = f"import sys, sciimg.kinds as k; k.all_kinds(); print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert all(isinstance(kind, Kind) for kind in all_kinds())


def module_imports() -> dict[str, set[str]]:
    """Each sciimg module -> the sciimg modules it imports anywhere (lazy imports in functions too)."""
    import ast

    package = ROOT / "sciimg"
    names = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in package.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sciimg"):
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            edges |= {t for t in targets if t in names and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a list of names (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                return [*path[path.index(other) :], name, other] if other in path else [name, other]
            if other not in state and (cycle := visit(other, [*path, name])):
                return cycle
        state[name] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [])):
            return cycle
    return None


def test_no_module_imports_itself_back_through_others():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    graph = module_imports()
    assert "sciimg.kinds" in graph["sciimg.tasks.fit"] and "sciimg.io.store" in graph["sciimg.io.store_readers"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_packages_point_one_way():
    """Folders of the package (io, data, baselines, ...) import each other without a circle."""
    packages: dict[str, set[str]] = {}
    for module, imported in module_imports().items():
        folder = module.split(".")[1] if "." in module else "sciimg"
        packages.setdefault(folder, set()).update(m.split(".")[1] for m in imported if "." in m)
    graph = {name: edges - {name} for name, edges in packages.items()}
    graph = {name: {e for e in edges if e in graph} for name, edges in graph.items()}
    assert {"io", "data", "baselines", "inference", "evaluate"} <= set(graph) and "io" in graph["data"]
    assert not (graph["io"] | graph["geometry"]) - {"errors", "provenance", "version"}  # the bottom layer
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_cli_asks_the_stores_kind_and_refuses_options_it_does_not_take(tiny_stores, tmp_path, capsys):
    from sciimg.cli import main

    args = ["--test", str(tiny_stores["test"]), "--predictions", f"cnn={tmp_path / 'none.ecsv'}"]
    assert main(["evaluate", "--experiment", "e", *args, "--training-target", "clean", "--output-dir", "o"]) == 2
    assert "--training-target does not apply to cherenkov regression experiments" in capsys.readouterr().err
    baseline = ["--train", str(tiny_stores["train"]), "--test", str(tiny_stores["test"])]
    assert main(["baseline", "--name", "bm3d", *baseline, "--output", str(tmp_path / "b.ecsv")]) == 2
    error = capsys.readouterr().err
    assert "baseline must be one of ['hillas_rf'] for the cherenkov regression store" in error and "got 'bm3d'" in error
    assert not (tmp_path / "b.ecsv").exists()
