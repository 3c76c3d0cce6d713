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
Imports: numpy, torch, safetensors, xdub.data.manifest, xdub.errors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file

from xdub.atomic import atomic_path
from xdub.data.manifest import MANIFEST_NAME, PairRecord, read_rows, write_rows
from xdub.errors import MediaError

PAIR_ARRAYS = ("input_crops", "target_crops", "mask", "audio", "donor_audio", "affines")


def shard_stem(shard: int) -> str:
    """File stem of shard `shard`."""
    return f"shard_{shard:05d}"


def shard_done(folder: str | Path, shard: int) -> bool:
    """Whether shard `shard` was completely written (its manifest exists)."""
    return (Path(folder) / f"{shard_stem(shard)}.jsonl").is_file()


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 prefix over the arrays (names, dtypes, shapes, bytes) in PAIR_ARRAYS order."""
    digest = hashlib.sha256()
    for name in PAIR_ARRAYS:
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


class PairStore:
    """Read side of a pair folder: rows from the shard manifests, arrays loaded per pair."""

    def __init__(self, folder: str | Path, accepted_only: bool = True) -> None:
        self.folder = Path(folder)
        shard_files = sorted(self.folder.glob("shard_*.jsonl"))
        if not shard_files:
            raise MediaError(f"no pair shards in {self.folder} (run `xdub make-pairs` first)")
        self.all_rows = [row for path in shard_files for row in read_rows(path)]
        self.rows = [r for r in self.all_rows if r.accepted or not accepted_only]
        self.rows = [r for r in self.rows if r.file is not None]

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, index: int, verify: bool = False) -> dict[str, np.ndarray]:
        """The PAIR_ARRAYS of stored pair `index` (only its tensors are read)."""
        row = self.rows[index]
        assert row.file is not None
        path = self.folder / row.file
        try:
            with safe_open(str(path), framework="numpy") as handle:
                arrays = {name: handle.get_tensor(f"{row.pair_id}/{name}") for name in PAIR_ARRAYS}
        except (OSError, KeyError) as err:
            raise MediaError(f"cannot read pair {row.pair_id} from {path}: {err}") from None
        if verify and checksum(arrays) != row.checksum:
            raise MediaError(f"pair {row.pair_id} in {path} does not match its checksum")
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
