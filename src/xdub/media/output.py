"""Safe output paths: validate where a media file may be written.

The writing itself is atomic through `xdub.atomic` (temp file beside the destination, renamed
on success). Imports: stdlib, xdub.errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from xdub.errors import OutputError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv")  # containers that carry H.264 + AAC everywhere


def _same_file(a: Path, b: Path) -> bool:
    """True if `a` and `b` name one file (hard links and symlinks included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(
    out: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] = (),
    extensions: Iterable[str] = VIDEO_EXTENSIONS,
) -> Path:
    """Return `out` as a Path, or raise OutputError if it cannot or must not be written."""
    path = Path(out)
    allowed = tuple(e.lower() for e in extensions)
    if path.suffix.lower() not in allowed:
        raise OutputError(
            f"unsupported output extension '{path.suffix}' for {path}; use one of "
            + ", ".join(allowed)
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"output folder does not exist: {folder}")
    if not folder.is_dir():
        raise OutputError(f"output folder is not a directory: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder is not writable: {folder}")
    if path.is_dir():
        raise OutputError(f"output path is a directory: {path}")
    for src in inputs:
        if _same_file(path, Path(src)):
            raise OutputError(f"output {path} would overwrite the input {src}")
    return path
