"""Atomic writes: every file or folder xdub writes appears complete or not at all.

The content goes to a hidden temp path beside the destination (same folder, so the final
`os.replace` is an atomic rename on one filesystem; same suffix, so writers that pick a format
by extension still work). On success the temp path replaces the destination; on any failure it
is removed and the destination is untouched. An `OSError` becomes a one-line `OutputError`.
Temp names contain `.partial` (tests check that none are left behind). Not `tempfile.mkstemp`:
its 0600 mode would make shipped or shared files private.
Imports: stdlib, xdub.errors (the bottom layer, so every layer can use it).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xdub.errors import OutputError


class TempTarget:
    """A temp path beside `final` (same suffix) with `commit` (rename over) and `discard`.

    The long-lived form, for writers that stay open across calls (the streaming video writer);
    everything else uses the `atomic_path` / `atomic_dir` context managers.
    """

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        token = secrets.token_hex(4)  # concurrent writers of one destination never share a temp
        self.tmp = self.final.with_name(f".{self.final.stem}.{token}.partial{self.final.suffix}")

    def commit(self) -> Path:
        """Move the finished temp path over the destination; return the destination."""
        try:
            if self.tmp.is_dir():
                _replace_dir(self.tmp, self.final)
            else:
                os.replace(self.tmp, self.final)
        except OSError as err:
            self.discard()
            raise OutputError(f"cannot write {self.final}: {err.strerror or err}") from None
        return self.final

    def discard(self) -> None:
        """Remove the temp file or folder if it exists (never raises)."""
        if self.tmp.is_dir() and not self.tmp.is_symlink():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                self.tmp.unlink(missing_ok=True)


def _replace_dir(tmp: Path, final: Path) -> None:
    """Put folder `tmp` at `final`; an existing `final` is moved aside first, then deleted.

    `os.replace` cannot rename over a non-empty folder, so the old one steps aside under a
    temp name: a crash between the two renames leaves both folders, never a half-written one.
    """
    if not final.exists():
        os.replace(tmp, final)
        return
    old = TempTarget(final).tmp
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _commit_on_success(target: TempTarget, make_dir: bool) -> Iterator[Path]:
    """Yield `target.tmp` (created as a folder if `make_dir`); commit it after the block,
    discard it when the block raises."""
    try:
        if make_dir:
            target.tmp.mkdir(parents=True)
        yield target.tmp
    except OSError as err:
        target.discard()
        raise OutputError(f"cannot write {target.final}: {err.strerror or err}") from None
    except BaseException:
        target.discard()
        raise
    target.commit()


def atomic_path(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """Context manager yielding a temp file path beside `path`; the file replaces `path` when
    the block succeeds (the block must create it)."""
    return _commit_on_success(TempTarget(path), make_dir=False)


def atomic_dir(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """Context manager yielding an empty temp folder beside `path`; it replaces folder `path`
    when the block succeeds (a previous `path` is deleted only then)."""
    return _commit_on_success(TempTarget(path), make_dir=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, data: Any, default: Any = None) -> Path:
    """Write `data` as indented JSON (`default` as for `json.dumps`) atomically; return the path."""
    return write_text_atomic(path, json.dumps(data, indent=2, default=default))
