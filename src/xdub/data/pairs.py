"""The pseudo-pair store: per-shard safetensors files + JSON-lines manifests, read lazily.

Layout of a pair folder (written by `xdub make-pairs`):

    shard_00000.safetensors   arrays of the stored pairs of shard 0, keys "{pair_id}/{name}"
    shard_00000.jsonl         one PairRecord per source clip of shard 0 (its "done" marker)
    ...
    manifest.jsonl            all rows in shard order (written once every shard is done)

Arrays of one pair (T frames, S = crop side, N = audio samples at 16 kHz):
    input_crops  [T, S, S, 3] uint8  V': V with the inpainted lower face (lips follow A')
    target_crops [T, S, S, 3] uint8  V: the original crops
    mask         [T, S, S]    uint8  inpainting mask, 0..255 (feathered; 255 = regenerated)
    audio        [N] float32          A, the source clip's own audio (stage-2 condition)
    donor_audio  [N] float32          A', length-matched donor audio that drove V'
    affines      [T, 2, 3] float32    frame -> crop alignments (paste-back into V's frames)
A shard's safetensors file is renamed into place before its jsonl, so a jsonl always points at
complete arrays; `PairStore.load` reads only the tensors of one pair (memory-mapped).
`export_tar` copies a folder into tar shards (`xdub.data.shards`) that `PairStore` reads the
same way from a local path or an object-store URL, one pair at a time.
Imports: numpy, torch, safetensors, xdub.data.{manifest, shards}, xdub.errors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file

from xdub.atomic import atomic_path
from xdub.data.manifest import MANIFEST_NAME, PairRecord, read_rows, write_rows
from xdub.data.shards import SHARD_SUFFIX, ShardIndex, ShardWriter, shard_name
from xdub.errors import MediaError

TAR_PREFIX = "pairs"  # tar shards of `export_tar`: pairs-000000.tar, ...
PAIR_ARRAYS = ("input_crops", "target_crops", "mask", "audio", "donor_audio", "affines")
# Stored when known (synthetic sources): `occluders` [T, S, S] uint8, what covers the face in
# the crops (engine truth), for occluder augmentation in stage-2 training.
OPTIONAL_ARRAYS = ("occluders",)


def shard_stem(shard: int) -> str:
    """File stem of shard `shard`."""
    return f"shard_{shard:05d}"


def shard_done(folder: str | Path, shard: int) -> bool:
    """Whether shard `shard` was completely written (its manifest exists)."""
    return (Path(folder) / f"{shard_stem(shard)}.jsonl").is_file()


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 prefix over the arrays (names, dtypes, shapes, bytes) in PAIR_ARRAYS order, then
    the OPTIONAL_ARRAYS present."""
    digest = hashlib.sha256()
    for name in PAIR_ARRAYS + tuple(k for k in OPTIONAL_ARRAYS if k in arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def write_shard(folder: str | Path, shard: int, rows: list[PairRecord],
                arrays: dict[str, dict[str, np.ndarray]]) -> Path:
    """Write a finished shard: arrays of the stored pairs, then its manifest (both atomic).

    `arrays[pair_id]` holds the PAIR_ARRAYS of each stored pair; rows with `file` set must
    have arrays. Returns the manifest path.
    """
    folder = Path(folder)
    stem = shard_stem(shard)
    tensors = {f"{pid}/{name}": np.ascontiguousarray(value)
               for pid, named in arrays.items() for name, value in named.items()}
    missing = [r.pair_id for r in rows if r.file is not None and r.pair_id not in arrays]
    if missing:
        raise ValueError(f"rows without arrays: {missing[:3]}")
    if tensors:
        path = folder / f"{stem}.safetensors"
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "xdub-pairs-1"})
    return write_rows(folder / f"{stem}.jsonl", rows)


def merge_manifests(folder: str | Path, num_shards: int) -> Path | None:
    """Write `manifest.jsonl` from all shard manifests if every shard is done; else None."""
    folder = Path(folder)
    if not all(shard_done(folder, k) for k in range(num_shards)):
        return None
    rows = [row for k in range(num_shards) for row in read_rows(folder / f"{shard_stem(k)}.jsonl")]
    return write_rows(folder / MANIFEST_NAME, rows)


def adopt_shards(folder: str | Path, other: str | Path, first: int) -> int:
    """Make the shards of pair folder `other` shards `first`, `first + 1`, ... of `folder`
    (arrays hard-linked, rows rewritten to their new file and shard; a shard already adopted
    is kept), so one `PairStore` reads both. Returns how many shards `other` has."""
    folder, other = Path(folder), Path(other)
    sources = sorted(other.glob("shard_*.jsonl"))
    for offset, source in enumerate(sources):
        shard = first + offset
        if shard_done(folder, shard):
            continue
        rows = read_rows(source)
        stored = [row.file for row in rows if row.file is not None]  # one file per shard
        name = f"{shard_stem(shard)}.safetensors"
        if stored:  # (`write_shard`); a shard of only rejected, unstored pairs has none
            (folder / name).unlink(missing_ok=True)
            os.link(other / stored[0], folder / name)
        write_rows(folder / f"{shard_stem(shard)}.jsonl",
                   [dataclasses.replace(row, shard=shard, file=name if row.file else None)
                    for row in rows])
    return len(sources)


def export_tar(folder: str | Path, out: str | Path) -> Path:
    """Copy a pair folder into the streaming layout: one tar shard per source shard
    (`pairs-000000.tar`, `xdub.data.shards`; sample key = pair id, fields = PAIR_ARRAYS) and a
    `manifest.jsonl` whose rows name those tars. Upload `out` anywhere fsspec reads and pass
    its URL as `pairs:`. Returns the manifest path."""
    store, out = PairStore(folder, accepted_only=False), Path(out)
    rows: list[PairRecord] = []
    for shard in sorted({row.shard for row in store.all_rows}):
        name = shard_name(TAR_PREFIX, shard)
        with ShardWriter(out / name) as writer:
            for row in (r for r in store.all_rows if r.shard == shard):
                if row.file is not None:
                    writer.add(row.pair_id, store.load_row(row))
                rows.append(dataclasses.replace(row, file=name if row.file else None))
    return write_rows(out / MANIFEST_NAME, rows)


class PairStore:
    """Read side of a pair store: rows from the manifests, arrays loaded per pair.

    Either a `xdub make-pairs` folder (safetensors shards, memory-mapped) or the tar layout of
    `export_tar`, at a local path or an fsspec URL (`s3://bucket/pairs`): each tar is indexed
    once (headers only) and a pair's arrays are read alone, never the whole store."""

    def __init__(self, folder: str | Path, accepted_only: bool = True) -> None:
        self.location = str(folder).rstrip("/")
        self.folder = Path(folder) if "://" not in self.location else Path(".")
        shard_files = [] if "://" in self.location else sorted(self.folder.glob("shard_*.jsonl"))
        self._indexes: dict[str, ShardIndex] = {}
        if shard_files:
            self.all_rows = [row for path in shard_files for row in read_rows(path)]
        elif "://" in self.location or (self.folder / MANIFEST_NAME).is_file():
            self.all_rows = read_rows(f"{self.location}/{MANIFEST_NAME}")
        else:
            raise MediaError(f"no pair shards in {self.folder} (run `xdub make-pairs` first)")
        self.rows = [r for r in self.all_rows if r.accepted or not accepted_only]
        self.rows = [r for r in self.rows if r.file is not None]

    def __len__(self) -> int:
        return len(self.rows)

    def load_row(self, row: PairRecord) -> dict[str, np.ndarray]:
        """The PAIR_ARRAYS (and stored OPTIONAL_ARRAYS) of a pair's row (only its arrays are read)."""
        assert row.file is not None
        path = f"{self.location}/{row.file}"
        if row.file.endswith(SHARD_SUFFIX):
            if row.file not in self._indexes:
                self._indexes[row.file] = ShardIndex(path)
            sample = self._indexes[row.file].read(row.pair_id, PAIR_ARRAYS + OPTIONAL_ARRAYS)
            return {name: sample[name] for name in PAIR_ARRAYS + OPTIONAL_ARRAYS
                    if name in sample}
        try:
            with safe_open(path, framework="numpy") as handle:
                stored = set(handle.keys())
                names = PAIR_ARRAYS + tuple(k for k in OPTIONAL_ARRAYS
                                            if f"{row.pair_id}/{k}" in stored)
                return {name: handle.get_tensor(f"{row.pair_id}/{name}") for name in names}
        except (OSError, KeyError) as err:
            raise MediaError(f"cannot read pair {row.pair_id} from {path}: {err}") from None

    def load(self, index: int, verify: bool = False) -> dict[str, np.ndarray]:
        """The PAIR_ARRAYS of stored pair `index` (only its tensors are read)."""
        row = self.rows[index]
        arrays = self.load_row(row)
        if verify and checksum(arrays) != row.checksum:
            raise MediaError(f"pair {row.pair_id} in {row.file} does not match its checksum")
        return arrays


class PairDataset(torch.utils.data.Dataset):
    """Torch view of a PairStore for stage 2: `{name: tensor}` per pair + its manifest row."""

    def __init__(self, store: PairStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> dict[str, Any]:
        arrays = self.store.load(index)
        item: dict[str, Any] = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        item["record"] = self.store.rows[index]
        return item
