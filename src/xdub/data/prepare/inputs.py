"""The raw videos of a `prepare` run: folders, glob patterns and list files, sorted and unique.

A folder contributes every file with a video extension below it; a pattern with `*?[` its
matches; a `.txt`/`.lst` file one path per line (blank lines and `#` comments skipped, relative
paths relative to the list); anything else is a video path. The sorted list fixes which shard
each video belongs to, so the same inputs always shard the same way.
Imports: stdlib, xdub.errors.
"""

from __future__ import annotations

import glob
from pathlib import Path

from xdub.errors import ConfigError

RAW_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts",
                  ".flv", ".ogv", ".wmv", ".3gp")
LIST_EXTENSIONS = (".txt", ".lst")


def _from_list(path: Path) -> list[Path]:
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [p if p.is_absolute() else path.parent / p
            for p in (Path(ln) for ln in lines if ln and not ln.startswith("#"))]


def collect_videos(inputs: list[str]) -> list[Path]:
    """Every raw video named by `inputs` (see the module docstring); ConfigError when none."""
    found: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if any(ch in item for ch in "*?["):
            found.update(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
        elif path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file()
                         and p.suffix.lower() in RAW_EXTENSIONS)
        elif path.suffix.lower() in LIST_EXTENSIONS and path.is_file():
            found.update(_from_list(path))
        elif path.exists():
            found.add(path)
        else:
            raise ConfigError(f"input not found: {item}")
    if not found:
        raise ConfigError(f"no videos found in {' '.join(inputs)}")
    return sorted(found)
