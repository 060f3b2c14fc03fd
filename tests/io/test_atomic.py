"""Atomic outputs: nothing half-written, and normal permissions once published."""

import os
import stat

import pytest

from sciimg.io.atomic import atomic_path, current_umask, write_text_atomic


def test_published_file_gets_the_umask_mode_not_the_temp_files_0600(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "hello")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~current_umask()
    assert target.read_text() == "hello"


def test_failure_leaves_neither_target_nor_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: "", "the output path is empty"),
        (lambda d: d, "exists and is not a regular file"),
        (lambda d: os.devnull, "exists and is not a regular file"),
        (
            lambda d: (d / "plain.txt").write_text("x") and d / "plain.txt" / "out.fits",
            "plain.txt is a file, not a folder",
        ),
        (
            lambda d: (d / "plain.txt").write_text("x") and d / "plain.txt" / "a" / "b.nc",
            "plain.txt is a file, not a folder",
        ),
    ],
)
def test_a_target_that_cannot_be_a_file_is_one_error_naming_it_and_nothing_is_touched(tmp_path, make, message):
    from sciimg.errors import InputError

    target = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError, match=message), atomic_path(target) as tmp:
        tmp.write_text("never")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert os.path.exists(os.devnull) and stat.S_ISCHR(os.stat(os.devnull).st_mode)  # the device is still one


def test_an_output_that_is_an_input_by_any_path_is_refused(tmp_path):
    from sciimg.errors import InputError
    from sciimg.io.atomic import refuse_overwriting_inputs

    source = tmp_path / "image.fits"
    source.write_bytes(b"data")
    (tmp_path / "hard.fits").hardlink_to(source)
    (tmp_path / "link.fits").symlink_to(source)
    for alias in (source, tmp_path / "sub" / ".." / "image.fits", tmp_path / "hard.fits", tmp_path / "link.fits"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InputError, match=r"is the input .*image\.fits"):
            refuse_overwriting_inputs(alias, [source])
    refuse_overwriting_inputs(tmp_path / "other.fits", [source])  # a new file is fine
    assert source.read_bytes() == b"data"
