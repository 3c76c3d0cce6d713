"""`xdub prepare` as a library call: raw videos -> clip shards + manifest + report.

Input videos are sorted and cut into shards of `videos_per_shard`; this process does the
shards `xdub.sharding` gives it (`--shard i/n`, or rank/world size from the launcher), each raw
video exactly once over all processes. A shard whose clip tar exists is skipped, so a rerun
resumes and a killed run loses at most the shard it was in; `prepare.json` pins the inputs and
settings of a folder so a rerun cannot reshuffle them. When every shard is done, the
process that sees it merges the manifests into `manifest.jsonl` and writes the HTML report.
Imports: xdub.{sharding, face, models, config}, xdub.data.prepare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from xdub.config.prepare import PrepareConfig
from xdub.data.prepare.progress import PrepareProgress
from xdub.data.prepare.cache import ClipEncoders
from xdub.data.prepare.destination import Destination
from xdub.data.prepare.store import (
    CLIPS,
    MANIFEST,
    is_done,
    read_rows,
    read_thumbs,
    remove_partials,
    shard_files,
    write_side_files,
)
from xdub.data.shards import ShardWriter, shard_name
from xdub.data.prepare.video import prepare_video
from xdub.config import to_dict
from xdub.errors import ConfigError
from xdub.sharding import Worker, num_shards, shard_items, shards_for

RUN_RECORD = "prepare.json"  # the inputs and config of the folder's first run


@dataclass(frozen=True)
class PrepareSummary:
    """What one process did: shards written and skipped, and whether the store is complete."""

    shards_written: tuple[int, ...]
    shards_skipped: tuple[int, ...]
    complete: bool
    kept: int
    rejected: dict[str, int]


def _load_scorer(spec: str):
    """"auto" -> the shipped tiny scorer; else a scorer folder (WeightsError when bad)."""
    from xdub.models.syncnet import SyncScorer, load_shipped_scorer

    return load_shipped_scorer() if spec == "auto" else SyncScorer.from_pretrained(spec)


def prepare_shard(out: Path, index: int, videos: list[Path], first: int, cfg: PrepareConfig,
                  detector, scorer, progress: PrepareProgress,
                  encoders: ClipEncoders | None = None) -> None:
    """Write shard `index` from `videos` (input indices from `first`); clips stream to disk."""
    remove_partials(out, index)
    rows: list[dict] = []
    thumbs: dict[str, bytes] = {}
    with ShardWriter(out / shard_name(CLIPS, index)) as shard:  # out: the local build folder
        for k, path in enumerate(videos):
            video_rows = []
            for outcome in prepare_video(path, f"v{first + k:06d}", cfg, detector, scorer,
                                         encoders):
                video_rows.append(outcome.row)
                if outcome.thumb is not None:
                    thumbs[outcome.row["key"]] = outcome.thumb
                if outcome.fields is not None:
                    shard.add(outcome.row["key"], outcome.fields)
            progress.video_done(video_rows)
            rows += sorted(video_rows, key=lambda r: r["key"])
        write_side_files(out, index, rows, thumbs)  # before the clip tar: it marks the shard done


def check_run_record(dest: Destination, videos: list[Path], cfg: PrepareConfig) -> None:
    """Record the inputs and config of the first run in `prepare.json`; a rerun with other
    inputs or settings would mix shards of two different splits, so it is refused."""
    record = {"videos": [str(v) for v in videos], "config": to_dict(cfg)}
    if not dest.exists(RUN_RECORD):
        dest.write_text(RUN_RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
    elif json.loads(dest.read_text(RUN_RECORD)) != json.loads(json.dumps(record)):
        raise ConfigError(f"{dest.location} was prepared from other inputs or settings "
                          f"({RUN_RECORD}); rerun with the same ones, or use a new --out")


def run_prepare(videos: list[Path], out: str | Path, cfg: PrepareConfig, worker: Worker,
                stream: IO[str] | None = None, report: bool = True,
                staging: Path | None = None,
                encoders: ClipEncoders | None = None) -> PrepareSummary:
    """Prepare this worker's shards of `videos` into `out`, a folder or an object-storage URL
    (built in `staging` first, default a temp folder); see the module docstring. `encoders`
    (built from `cfg.cache` by the caller) add cached latents / audio features per clip."""
    from xdub.face.detect import create_detector

    dest = Destination(out, staging)
    check_run_record(dest, videos, cfg)
    total = num_shards(len(videos), cfg.videos_per_shard)
    mine = shards_for(len(videos), cfg.videos_per_shard, worker.index, worker.count)
    todo = [k for k in mine if not is_done(dest, k)]
    count = sum(len(shard_items(k, cfg.videos_per_shard, len(videos))) for k in todo)
    progress = PrepareProgress(count, stream)
    detector, scorer = (create_detector(cfg.face.detect), _load_scorer(cfg.sync.scorer)) \
        if todo else (None, None)
    try:
        for k in todo:
            items = shard_items(k, cfg.videos_per_shard, len(videos))
            prepare_shard(dest.local, k, [videos[i] for i in items], items.start, cfg, detector,
                          scorer, progress, encoders)
            dest.publish(shard_files(k))
    finally:
        progress.close()
    complete = all(is_done(dest, k) for k in range(total))
    if complete:
        rows = read_rows(dest, list(range(total)))
        dest.write_text(MANIFEST, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        if report:
            from xdub.data.prepare.report import write_report

            write_report(dest.local, rows, cfg, read_thumbs(dest.location))
            dest.publish(["report"])
    return PrepareSummary(tuple(todo), tuple(k for k in mine if k not in todo), complete,
                          progress.kept, dict(progress.rejected))
