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
