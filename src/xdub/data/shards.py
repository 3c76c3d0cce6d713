"""Sharded sample stores: webdataset-style tar shards, written atomically, read as a stream.

A store is a folder (or object-store prefix) of tar files `<prefix>-000000.tar`, ... Each
sample is a run of consecutive members sharing a key (`<key>.<field>.<ext>`), the layout of
webdataset, so its tools read these shards too:

    p00000042.input_crops.npy    numpy array (np.save format, no pickles)
    p00000042.meta.json          JSON object
    p00000042.video.mp4          raw bytes (mp4, wav, png: anything already encoded)

In memory a sample is `{"__key__": key, field: value}` with `np.ndarray` values for `.npy`,
dicts/lists for `.json` and `bytes` for any other extension. A key never contains a dot.

Random access (`ShardIndex`): one pass over the tar headers gives each member's offset, then
a sample's bytes are read alone (local files, or fsspec URLs by range requests).
Writing (`ShardWriter`, `write_shard`): members go to a hidden temp file beside the final
name, which is renamed into place when the shard is finished, so a killed writer leaves no
shard at all and a shard that exists is complete (`shard_done`). Reading (`iter_shard`,
`ShardStream`) goes through tar's stream mode: one sample in memory at a time, never an index
or a seek, so a shard may be a local path or any fsspec URL (`s3://`, `gs://`, `https://`;
fsspec is imported only for URLs and needs the matching filesystem package).
`ShardStream` is a torch `IterableDataset` over many shards for the trainers: shards are
split over processes (k % world == rank) and DataLoader workers, reshuffled per epoch with a
seed, and samples go through an optional bounded shuffle buffer.
Imports: stdlib, numpy, torch, xdub.{atomic, errors, sharding}.
"""

from __future__ import annotations

import glob
import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from xdub.atomic import TempTarget
from xdub.errors import MediaError
from xdub.sharding import shards_for

Sample = dict[str, Any]
SHARD_SUFFIX = ".tar"


def shard_name(prefix: str, index: int) -> str:
    """File name of shard `index` of a store: `<prefix>-000042.tar`."""
    return f"{prefix}-{index:06d}{SHARD_SUFFIX}"


def shard_done(folder: str | Path, prefix: str, index: int) -> bool:
    """Whether shard `index` was finished (only finished shards exist under their name)."""
    return (Path(folder) / shard_name(prefix, index)).is_file()


def list_shards(location: str | Path, prefix: str = "") -> list[str]:
    """Finished shards of a store, sorted: a local folder (optionally only `prefix-*`), a glob
    pattern, or an fsspec URL prefix (`s3://bucket/pairs/`)."""
    text = str(location)
    pattern = f"{prefix}-*{SHARD_SUFFIX}" if prefix else f"*{SHARD_SUFFIX}"
    if "://" in text:
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(text.rstrip("/") + "/" + pattern)
        return sorted(fs.unstrip_protocol(p) for p in paths)
    if any(ch in text for ch in "*?["):
        return sorted(glob.glob(text))
    return sorted(str(p) for p in Path(text).glob(pattern) if not p.name.startswith("."))


# ---------------------------------------------------------------------------------------------
# Encoding of one field
# ---------------------------------------------------------------------------------------------


def _encode(name: str, value: Any) -> tuple[str, bytes]:
    """(member suffix, bytes) of one field: arrays -> .npy, dict/list -> .json, bytes as is
    (the field name must then carry its extension, e.g. 'video.mp4')."""
    if isinstance(value, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
        return f"{name}.npy", buffer.getvalue()
    if isinstance(value, dict | list):
        return f"{name}.json", json.dumps(value, sort_keys=True).encode()
    if isinstance(value, bytes | bytearray):
        if "." not in name:
            raise ValueError(f"bytes field '{name}' needs an extension (e.g. '{name}.mp4')")
        return name, bytes(value)
    raise TypeError(f"field '{name}': store arrays, dicts/lists or bytes, not {type(value)}")


def _decode(suffix: str, data: bytes) -> tuple[str, Any]:
    """Inverse of `_encode`: (field name, value) from a member's `<field>.<ext>` suffix."""
    field, _, ext = suffix.rpartition(".")
    if ext == "npy":
        return field, np.load(io.BytesIO(data), allow_pickle=False)
    if ext == "json":
        return field, json.loads(data)
    return suffix, data


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


class ShardWriter:
    """Write one shard sample by sample; it appears under its name only on `close()`.

        with ShardWriter(folder / shard_name("pairs", 3)) as shard:
            shard.add("p00000042", {"input_crops": crops, "meta": {"fps": 25.0}})

    Leaving the block by an exception discards the temp file (no shard is written). Member
    headers carry no time or owner, so equal samples give byte-identical shards.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._target = TempTarget(self.path)
        self._tar: tarfile.TarFile | None = tarfile.open(self._target.tmp, "w",
                                                         format=tarfile.USTAR_FORMAT)
        self.keys: list[str] = []

    def add(self, key: str, fields: dict[str, Any]) -> None:
        """Append sample `key` (no dots, unique in the shard) with its fields."""
        if self._tar is None:
            raise ValueError(f"shard {self.path} is already closed")
        if not key or "." in key or "/" in key:
            raise ValueError(f"sample key '{key}' must be non-empty, without '.' or '/'")
        if key in self.keys:
            raise ValueError(f"sample key '{key}' is already in {self.path.name}")
        for name, value in fields.items():
            suffix, data = _encode(name, value)
            info = tarfile.TarInfo(f"{key}.{suffix}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            self._tar.addfile(info, io.BytesIO(data))
        self.keys.append(key)

    def close(self) -> Path:
        """Finish the tar and rename it into place; returns the shard path."""
        if self._tar is not None:
            self._tar.close()
            self._tar = None
            self._target.commit()
        return self.path

    def discard(self) -> None:
        """Drop everything written so far (the shard does not appear)."""
        if self._tar is not None:
            self._tar.close()
            self._tar = None
        self._target.discard()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def write_shard(path: str | Path, samples: Iterable[tuple[str, dict[str, Any]]]) -> Path:
    """Write `(key, fields)` samples as one finished shard (atomically); returns its path."""
    with ShardWriter(path) as shard:
        for key, fields in samples:
            shard.add(key, fields)
    return shard.path


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _open(location: str) -> IO[bytes]:
    if "://" in location:
        import fsspec

        return fsspec.open(location, "rb").open()
    return open(location, "rb")  # noqa: SIM115 (closed by iter_shard)


def iter_shard(location: str | Path) -> Iterator[Sample]:
    """The samples of one shard, in order, one in memory at a time (local path or URL)."""
    location = str(location)
    try:
        handle = _open(location)
    except (OSError, ValueError) as err:
        raise MediaError(f"cannot open shard {location}: {err}") from None
    sample: Sample = {}
    try:
        with handle, tarfile.open(fileobj=handle, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, _, suffix = member.name.rpartition("/")[2].partition(".")
                if sample and sample["__key__"] != key:
                    yield sample
                    sample = {}
                sample.setdefault("__key__", key)
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                field, value = _decode(suffix, data)
                sample[field] = value
    except (tarfile.TarError, OSError, ValueError) as err:
        raise MediaError(f"corrupt shard {location}: {err}") from None
    if sample:
        yield sample


class ShardIndex:
    """Random access to the samples of one shard: member offsets from one pass over the tar
    headers (seeks only, no data read), then `read(key)` reads just that sample's bytes.
    Local paths and seekable fsspec URLs (object stores read by range requests)."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.members: dict[str, list[tuple[str, int, int]]] = {}  # key -> (suffix, offset, size)
        try:
            with _open(self.location) as handle, tarfile.open(fileobj=handle, mode="r:") as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        key, _, suffix = member.name.rpartition("/")[2].partition(".")
                        entry = (suffix, member.offset_data, member.size)
                        self.members.setdefault(key, []).append(entry)
        except (tarfile.TarError, OSError, ValueError) as err:
            raise MediaError(f"cannot index shard {self.location}: {err}") from None

    def keys(self) -> list[str]:
        """Sample keys in shard order."""
        return list(self.members)

    def read(self, key: str, fields: tuple[str, ...] | None = None) -> Sample:
        """Sample `key` (only `fields` when given: names without extension)."""
        if key not in self.members:
            raise MediaError(f"no sample '{key}' in shard {self.location}")
        sample: Sample = {"__key__": key}
        try:
            with _open(self.location) as handle:
                for suffix, offset, size in self.members[key]:
                    if fields is not None and suffix.rpartition(".")[0] not in fields:
                        continue
                    handle.seek(offset)
                    name, value = _decode(suffix, handle.read(size))
                    sample[name] = value
        except (OSError, ValueError) as err:
            raise MediaError(f"cannot read '{key}' from shard {self.location}: {err}") from None
        return sample


def read_shard(location: str | Path) -> list[Sample]:
    """Every sample of one (small) shard, as a list."""
    return list(iter_shard(location))


class ShardStream(torch.utils.data.IterableDataset):
    """Samples of many shards for training: this process's shards, endless or one pass.

    Process `rank` of `world` reads shards k with k % world == rank (with fewer shards than
    processes, shard k % num_shards); DataLoader workers split those further. Each epoch
    visits the shards in an order seeded by (seed, epoch); `shuffle_buffer` > 0 mixes
    samples of consecutive shards through a buffer of that many samples (memory bound).
    """

    def __init__(self, shards: list[str], rank: int = 0, world: int = 1, seed: int = 0,
                 shuffle_buffer: int = 0, epochs: int | None = None) -> None:
        if not shards:
            raise MediaError("no shards to read (empty store?)")
        self.shards, self.rank, self.world = list(shards), rank, world
        self.seed, self.shuffle_buffer, self.epochs = seed, shuffle_buffer, epochs

    def my_shards(self, epoch: int) -> list[str]:
        """This process's (and DataLoader worker's) shards in epoch `epoch`'s order."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.shards))
        if len(self.shards) >= self.world:
            mine = shards_for(len(self.shards), 1, self.rank, self.world)
        else:  # too few shards: processes share them rather than idle
            mine = [self.rank % len(self.shards)]
        info = torch.utils.data.get_worker_info()
        if info is not None:
            mine = mine[info.id::info.num_workers] or mine[:1]
        return [self.shards[order[k]] for k in mine]

    def _samples(self) -> Iterator[Sample]:
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            for shard in self.my_shards(epoch):
                yield from iter_shard(shard)
            epoch += 1

    def __iter__(self) -> Iterator[Sample]:
        if self.shuffle_buffer <= 0:
            yield from self._samples()
            return
        rng = np.random.default_rng([self.seed, self.rank, 7])
        buffer: list[Sample] = []
        for sample in self._samples():
            buffer.append(sample)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(int(rng.integers(len(buffer))))
        while buffer:
            yield buffer.pop(int(rng.integers(len(buffer))))
