"""Manifest rows of the pseudo-pair store: one `PairRecord` per source clip, as JSON lines.

Every source clip processed by `xdub make-pairs` gets a row, accepted or not, so the
acceptance rate and the filter scores stay inspectable. Rows of a shard live in
`shard_NNNNN.jsonl` next to its `shard_NNNNN.safetensors`; `manifest.jsonl` is their
concatenation in shard order. Files are written to a temp name and renamed.
Imports: stdlib only (+ xdub.errors; fsspec for URLs).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xdub.atomic import write_text_atomic
from xdub.errors import MediaError

MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True)
class PairRecord:
    """One pseudo-pair: input (V', A) -> target V; arrays under `{pair_id}/...` in `file`."""

    pair_id: str  # "p" + global item index, zero-padded (stable across reruns and sharding)
    item: int  # position of the source clip in the input list
    shard: int
    source_clip: str  # clip id of V (and of its audio A)
    donor_clip: str  # clip id whose audio A' drove V'
    donor_rule: str  # how A' was length-matched to A (see xdub.train.pairgen.match_length)
    seeds: dict[str, int]  # "noise" (sampling), "pick" (donor choice), engine seeds if synthetic
    model_version: str  # inpainter weights hash
    num_frames: int
    fps: float
    crop_size: int
    sample_rate: int
    scores: dict[str, float]  # filter scores (NaN -> null)
    accepted: bool
    reasons: list[str] = field(default_factory=list)  # failed filters
    file: str | None = None  # shard file holding the arrays (None: not stored)
    checksum: str | None = None  # sha256 prefix over the stored arrays

    def to_json(self) -> str:
        """One JSON line (NaN scores become null)."""
        data = dataclasses.asdict(self)
        data["scores"] = {k: (None if math.isnan(v) else v) for k, v in self.scores.items()}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> PairRecord:
        """Parse a line written by `to_json` (null scores become NaN)."""
        data = json.loads(line)
        data["scores"] = {k: (float("nan") if v is None else float(v))
                          for k, v in data["scores"].items()}
        return cls(**data)


def pair_id(item: int) -> str:
    """Stable id of the pair made from input item `item`."""
    return f"p{item:08d}"


def write_rows(path: str | Path, rows: list[PairRecord]) -> Path:
    """Write rows as JSON lines, atomically (temp file + rename)."""
    return write_text_atomic(path, "".join(row.to_json() + "\n" for row in rows))


def read_rows(path: str | Path) -> list[PairRecord]:
    """Rows of one manifest file (a local path or an fsspec URL)."""
    try:
        if "://" in str(path):  # object storage: fsspec (imported only here)
            import fsspec

            with fsspec.open(str(path), "r") as handle:
                lines = handle.read().splitlines()
        else:
            lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise MediaError(f"cannot read manifest {path}: {err}") from None
    try:
        return [PairRecord.from_json(line) for line in lines if line.strip()]
    except (json.JSONDecodeError, TypeError, KeyError) as err:
        raise MediaError(f"corrupt manifest {path}: {err}") from None


def summarize(rows: list[PairRecord]) -> dict[str, Any]:
    """Counts, acceptance rate and how often each filter rejected."""
    reasons: dict[str, int] = {}
    for row in rows:
        for reason in row.reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
    accepted = sum(row.accepted for row in rows)
    return {"pairs": len(rows), "accepted": accepted,
            "acceptance_rate": accepted / len(rows) if rows else float("nan"),
            "rejected_by": reasons}
