"""Real sample files ship with the repository: every one is named, present and unchanged."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sciimg import samples
from sciimg.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_every_sample_is_named_present_and_has_the_hash_it_shipped_with():
    expected = samples.expected_sha256()
    assert sorted(s.file for s in samples.SAMPLES.values()) == sorted(expected) and len(expected) == 10
    for name in samples.available():
        assert samples.verify(name).is_file()
    readme = (samples.SAMPLES_DIR / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in samples.available())  # sources and licences per file


def test_a_changed_or_unknown_sample_is_one_clear_error(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"sample must be one of \[.*'lst_camera'.*\], got 'lst'"):
        samples.path("lst")
    copy = tmp_path / "samples"
    (copy / "cherenkov").mkdir(parents=True)
    (copy / "SHA256SUMS").write_text((samples.SAMPLES_DIR / "SHA256SUMS").read_text())
    (copy / "cherenkov" / "LSTCam.camgeom.fits.gz").write_bytes(b"not the camera")
    monkeypatch.setattr(samples, "SAMPLES_DIR", copy)
    with pytest.raises(InputError, match=r"LSTCam\.camgeom\.fits\.gz: SHA-256 \w+ differs"):
        samples.verify("lst_camera")
    with pytest.raises(InputError, match="sample 'lst_muons' is missing"):
        samples.path("lst_muons")


def test_nothing_in_the_project_refers_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/")
    suffixes, names = (".py", ".yaml", ".md", ".smk", ".sh", ".rst"), ("Snakefile", "Makefile")
    skipped = {ROOT / name for name in (".venv", "results", ".snakemake", ".git", "data/raw", "data/interim")}
    files = []
    for folder, subfolders, names_here in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if Path(folder, d) not in skipped]
        files += [Path(folder, n) for n in names_here if n.endswith(suffixes) or n in names]
    files = [p for p in files if p != Path(__file__).resolve()]
    found = [str(p.relative_to(ROOT)) for p in files if outside.search(p.read_text(errors="ignore"))]
    assert not found, found
