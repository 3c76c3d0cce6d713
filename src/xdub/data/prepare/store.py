"""The output of `xdub prepare`: clip shards, per-shard manifests, thumbnails, and a reader.

Layout of the output folder (shard k holds the clips of input videos [k*v, (k+1)*v)):

    clips-000042.tar            kept clips (`xdub.data.shards` tar: one sample per clip)
    clips-000042.jsonl          one manifest row per clip or rejected video/segment/face
    thumbs-000042.tar           a small PNG per row that has one (the report's thumbnails)
    manifest.jsonl, report/     all shards merged, written once every shard is done
    prepare.json                the inputs and settings of the first run (reruns must match)

The folder may be an object-storage URL (`xdub.data.prepare.destination`).

A clip sample: `crops` [T, S, S, 3] uint8 aligned face crops, `landmarks` [T, 68, 2] and
`boxes` [T, 4] in crop pixels, `affines` [T, 2, 3] frame->crop, `audio` [N] float32 16 kHz
(offset-corrected), `meta` (the manifest row). The manifest and thumbnails are written before
the clip tar is renamed into place (clips stream into it while the shard is worked on), and a
shard counts as done only when its clip tar exists, so a killed run redoes at most the shard it
was in (and deletes the temp files it left). `PreparedClipSource` serves the clips to the stage-1
dataset as `ClipRecord`s. Imports: json, numpy, xdub.{atomic, data}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from xdub.atomic import write_text_atomic
from xdub.data.shards import (
    ShardIndex,
    ShardWriter,
    iter_shard,
    list_shards,
    shard_name,
)
from xdub.data.prepare.destination import Destination
from xdub.data.sources import ClipRecord

CLIPS, THUMBS = "clips", "thumbs"
MANIFEST = "manifest.jsonl"


def shard_files(index: int) -> list[str]:
    """File names of shard `index`, in writing order: the clip tar (the done marker) last."""
    clips = shard_name(CLIPS, index)
    return [clips.replace(".tar", ".jsonl"), shard_name(THUMBS, index), clips]


def is_done(dest: Destination, index: int) -> bool:
    """Whether shard `index` is finished (its clip tar exists; it is written last)."""
    return dest.exists(shard_name(CLIPS, index))


def write_side_files(out: Path, index: int, rows: list[dict[str, Any]],
                     thumbs: dict[str, bytes]) -> None:
    """Shard `index`'s manifest rows and thumbnails (each file atomic). The clip tar, streamed
    by the caller, is renamed into place after these: it is the shard's done marker."""
    write_text_atomic(out / shard_files(index)[0],
                      "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    with ShardWriter(out / shard_name(THUMBS, index)) as shard:
        for key in sorted(thumbs):
            shard.add(key, {"thumb.png": thumbs[key]})


def remove_partials(out: Path, index: int) -> None:
    """Delete temp files a killed writer of shard `index` left (only its owner redoes it)."""
    for prefix in (CLIPS, THUMBS):
        stem = shard_name(prefix, index).removesuffix(".tar")
        for stale in out.glob(f".{stem}.*.partial.tar"):
            stale.unlink(missing_ok=True)


def read_rows(dest: Destination, indices: list[int]) -> list[dict[str, Any]]:
    """Manifest rows of shards `indices`, in shard order."""
    rows: list[dict[str, Any]] = []
    for k in indices:
        rows += [json.loads(line) for line in dest.read_text(shard_files(k)[0]).splitlines()]
    return rows


def read_thumbs(out: str | Path) -> dict[str, bytes]:
    """Every thumbnail of the store, by row key."""
    return {s["__key__"]: s["thumb.png"] for shard in list_shards(out, THUMBS)
            for s in iter_shard(shard)}


class PreparedClipSource:
    """The kept clips of a prepared store (a folder or an fsspec URL prefix) as a `ClipSource`
    (frames = the aligned crops). Each shard's tar headers are indexed once (`ShardIndex`);
    `load` then reads one clip's bytes only."""

    def __init__(self, location: str | Path) -> None:
        self.shards = [ShardIndex(s) for s in list_shards(location, CLIPS)]
        self.index = [(k, key) for k, shard in enumerate(self.shards) for key in shard.keys()]

    def __len__(self) -> int:
        return len(self.index)

    def clip_id(self, index: int) -> str:
        return f"prepared:{self.index[index][1]}"

    def load(self, index: int) -> ClipRecord:
        shard, key = self.index[index]
        sample = self.shards[shard].read(key)
        meta = sample["meta"]
        return ClipRecord(self.clip_id(index), sample["crops"], float(meta["fps"]),
                          sample["audio"], sample["landmarks"], sample["boxes"], meta)

    def load_audio(self, index: int) -> np.ndarray:
        shard, key = self.index[index]
        return self.shards[shard].read(key, fields=("audio",))["audio"]
