"""Safe output paths: validate where a file may be written, and write it atomically.

Every file `xdub.media` writes goes to a hidden temp file in the destination folder and is
renamed over the destination only once complete (`os.replace` is atomic on one filesystem),
so a crash never leaves a half-written output and an existing file is untouched on failure.
Imports: stdlib, xdub.errors.
"""

from __future__ import annotations

import contextlib
import os
import secrets
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


class TempTarget:
    """A temp file beside `final` (same extension, so muxers pick the format) + commit/discard."""

    def __init__(self, final: Path) -> None:
        self.final = Path(final)
        token = secrets.token_hex(4)
        self.tmp = self.final.with_name(f".{self.final.stem}.{token}.partial{self.final.suffix}")

    def commit(self) -> Path:
        """Move the finished temp file over the destination; return the destination."""
        try:
            os.replace(self.tmp, self.final)
        except OSError as err:
            self.discard()
            raise OutputError(f"cannot write {self.final}: {err.strerror or err}") from None
        return self.final

    def discard(self) -> None:
        """Remove the temp file if it exists (never raises)."""
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)
