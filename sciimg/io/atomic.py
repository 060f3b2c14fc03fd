"""Atomic output: write to a temporary file in the target folder, then rename over the target.

Before anything is written, the target is checked (:func:`checked_target`): a path that is
empty, names a folder or a device, lies under a file, or in a folder that cannot be written
is one :class:`~sciimg.errors.InputError` naming the target, never a temporary file's name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from sciimg.errors import InputError


def current_umask() -> int:
    """The process's file-mode creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: Path, directory: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode a normally created one would get."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def checked_target(target: str | os.PathLike, folder: bool = False, create: bool = True) -> Path:
    """``target`` as a path to write (a file, or a ``folder``), its parent folder created (unless not ``create``).

    Raises:
        InputError: an empty path; something other than a regular file (a folder, for a
            ``folder`` target) already there; a parent that is not a folder; a parent that
            cannot be created or written.
    """
    if not str(target).strip():
        raise InputError("the output path is empty")
    target = Path(target)
    if target.exists() or target.is_symlink():
        if folder and not target.is_dir():
            raise InputError(f"{target}: exists and is not a folder; give a folder path to write")
        if not folder and not target.is_file():
            raise InputError(f"{target}: exists and is not a regular file; give a file path to write")
    for parent in (target.parent, *target.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{target}: cannot be written, {parent} is a file, not a folder")
            break
    if not create and not target.parent.exists():
        return target  # checked again, and created, when written
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{target}: cannot create its folder ({error.strerror})") from None
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise InputError(f"{target}: folder {target.parent} is not writable")
    return target


def refuse_overwriting_inputs(target: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """An output must not be one of the inputs (the same file by any path: hard or symbolic links).

    Raises:
        InputError: ``target`` is one of ``inputs``.
    """
    target = Path(target)
    if not target.exists():
        return
    for source in inputs:
        if Path(source).exists() and os.path.samefile(target, source):
            raise InputError(f"{target}: is the input {source}; write the output to another path")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    On any exception the temporary file is removed, so a crash never leaves a half-written
    file that looks complete.

    Args:
        target: final file path.
        suffix: suffix of the temporary file (defaults to the target's, so that libraries
            that pick a format from the extension still work).
    """
    target = checked_target(target)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=suffix or target.suffix + ".tmp"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        publish_mode(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; it replaces ``target`` if the block succeeds."""
    target = checked_target(target, folder=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield tmp
        publish_mode(tmp, directory=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
