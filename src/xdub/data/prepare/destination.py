"""Where a prepared store goes: a local folder, or an object-storage URL via fsspec.

Shards are always built in a local folder (`local`): the output folder itself, or for a URL
(`s3://bucket/prepared`, `gs://...`, `memory://...`) a staging folder, from which each
finished shard's files are uploaded in order (manifest rows, thumbnails, clip tar last: the
done marker) and then deleted. One object PUT is atomic, so a clip tar that exists at the URL
is complete. fsspec is imported only for URLs (with the filesystem package of the scheme).
Imports: stdlib, xdub.{atomic, errors}.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from xdub.atomic import write_text_atomic
from xdub.errors import OutputError


def is_url(location: str | Path) -> bool:
    return "://" in str(location)


class Destination:
    """A prepared store's location; `local` is where files are built before `publish`."""

    def __init__(self, location: str | Path, staging: Path | None = None) -> None:
        self.location = str(location).rstrip("/")
        self.remote = is_url(location)
        if self.remote:
            import fsspec

            self.fs, _, (self.root,) = fsspec.get_fs_token_paths(self.location)
            digest = hashlib.sha1(self.location.encode()).hexdigest()[:12]
            self.local = staging or Path(tempfile.gettempdir()) / f"xdub-prepare-{digest}"
        else:
            self.local = Path(location)
            if self.local.exists() and not self.local.is_dir():
                raise OutputError(f"--out {self.local} is a file, not a folder")
        try:
            self.local.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"cannot create {self.local}: {err.strerror}") from None

    def exists(self, name: str) -> bool:
        """Whether file `name` is at the destination."""
        if self.remote:
            return bool(self.fs.exists(f"{self.root}/{name}"))
        return (self.local / name).is_file()

    def read_text(self, name: str) -> str:
        if self.remote:
            return self.fs.cat_file(f"{self.root}/{name}").decode()
        return (self.local / name).read_text()

    def write_text(self, name: str, text: str) -> None:
        """Write file `name` at the destination (atomically for local folders)."""
        write_text_atomic(self.local / name, text)
        self.publish([name])

    def publish(self, names: list[str]) -> None:
        """Upload local files or folders `names` in this order, then delete the local copies
        (nothing to do for a local destination)."""
        if not self.remote:
            return
        import shutil

        for name in names:
            path = self.local / name
            try:
                if path.is_dir():
                    self.fs.put(str(path), f"{self.root}/{name}", recursive=True)
                    shutil.rmtree(path)
                else:
                    self.fs.put_file(str(path), f"{self.root}/{name}")
                    path.unlink()
            except OSError as err:
                raise OutputError(f"cannot upload {name} to {self.location}: {err}") from None
